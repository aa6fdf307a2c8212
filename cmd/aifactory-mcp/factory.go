package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aifactory/aifactory-mcp/store"
	"github.com/spf13/pflag"
)

// Factory builds a command's dependencies lazily, so `--help` and usage
// errors never touch the disk.
type Factory struct {
	IO *IOStreams

	flags *pflag.FlagSet

	once   sync.Once
	cfg    *Config
	cfgErr error

	dbOnce sync.Once
	db     *store.DB
	dbErr  error
	// firstRun is set when opening the store initialised a new home.
	firstRun *initResult
}

func newFactory(io *IOStreams) *Factory { return &Factory{IO: io} }

// Config loads the configuration once.
func (f *Factory) Config() (*Config, error) {
	f.once.Do(func() { f.cfg, f.cfgErr = loadConfig(f.flags) })
	return f.cfg, f.cfgErr
}

// Store opens the store, running the first-run initialisation when there is
// no database yet and applying pending migrations otherwise.
func (f *Factory) Store(ctx context.Context) (*store.DB, error) {
	f.dbOnce.Do(func() {
		cfg, err := f.Config()
		if err != nil {
			f.dbErr = err
			return
		}
		if _, statErr := os.Stat(cfg.DB); errors.Is(statErr, os.ErrNotExist) {
			res, err := initialize(ctx, cfg)
			if err != nil {
				f.dbErr = err
				return
			}
			f.firstRun = res
			f.db = res.db
			return
		}
		f.db, f.dbErr = store.Open(ctx, cfg.DB)
	})
	return f.db, f.dbErr
}

// Box returns the Fernet box from AIFACTORY_SECRET_KEYS or the key file.
func (f *Factory) Box() (*store.Box, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return loadBox(cfg)
}

func loadBox(cfg *Config) (*store.Box, error) {
	if env := os.Getenv("AIFACTORY_SECRET_KEYS"); env != "" {
		keys, err := store.ParseKeys(env)
		if err != nil {
			return nil, fmt.Errorf("AIFACTORY_SECRET_KEYS: %w", err)
		}
		return store.NewBox(keys)
	}
	keys, err := store.LoadKeyFile(cfg.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	return store.NewBox(keys)
}

// Admin opens the store for a local admin command and returns it with the
// admin acting on the configured org.
func (f *Factory) Admin(ctx context.Context) (*store.DB, *store.Actor, error) {
	db, err := f.Store(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg, _ := f.Config()
	actor, err := db.AdminActor(ctx, cfg.Org)
	if err != nil {
		return nil, nil, err
	}
	return db, actor, nil
}

func (f *Factory) Close() {
	if f.db != nil {
		f.db.Close()
	}
}
