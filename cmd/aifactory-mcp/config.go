package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the typed configuration. Precedence: flag > environment >
// config.yaml > default. Secrets are not here: keys are read from the
// environment or files by the code that needs them.
type Config struct {
	Home                 string
	WorkspaceRoot        string
	DB                   string
	SecretKeyFile        string
	Org                  string
	CloneTimeout         time.Duration
	CloneWait            time.Duration
	AllowedHosts         []string
	AllowPrivateNetworks bool
	AllowLinkLocal       bool
	AllowHTTP            bool
	CAFile               string
	LogLevel             string
	LogFile              string
	CloneEngine          string
}

// configKeys binds each viper key to its one environment variable.
var configKeys = map[string]string{
	"workspace_root":         "PROJECT_WORKSPACE_ROOT",
	"db":                     "AIFACTORY_DB",
	"secret_key_file":        "AIFACTORY_SECRET_KEY_FILE",
	"org":                    "AIFACTORY_ORG",
	"clone_timeout":          "AIFACTORY_CLONE_TIMEOUT",
	"clone_wait":             "AIFACTORY_CLONE_WAIT",
	"clone_engine":           "AIFACTORY_CLONE_ENGINE",
	"allowed_hosts":          "AIFACTORY_ALLOWED_HOSTS",
	"allow_private_networks": "AIFACTORY_ALLOW_PRIVATE_NETWORKS",
	"allow_link_local":       "AIFACTORY_ALLOW_LINK_LOCAL",
	"allow_http":             "AIFACTORY_ALLOW_HTTP",
	"ca_file":                "AIFACTORY_CA_FILE",
	"log_level":              "AIFACTORY_LOG_LEVEL",
	"log_file":               "AIFACTORY_LOG_FILE",
}

// homeDir returns AIFACTORY_HOME or ~/.aifactory.
func homeDir() (string, error) {
	if h := os.Getenv("AIFACTORY_HOME"); h != "" {
		return filepath.Abs(h)
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the home directory; set AIFACTORY_HOME")
	}
	return filepath.Join(u, ".aifactory"), nil
}

// defaultWorkspaceRoot follows the seed: a PVC path in Kubernetes, the
// runner's temp dir in CI, the home's workspaces/ on a laptop.
func defaultWorkspaceRoot(home string) string {
	switch {
	case os.Getenv("KUBERNETES_SERVICE_HOST") != "":
		return "/var/lib/aifactory/workspaces"
	case os.Getenv("RUNNER_TEMP") != "":
		return filepath.Join(os.Getenv("RUNNER_TEMP"), "aifactory-workspaces")
	default:
		return filepath.Join(home, "workspaces")
	}
}

// loadConfig builds the Config from flags, environment, config.yaml and
// defaults.
func loadConfig(flags *pflag.FlagSet) (*Config, error) {
	home, err := homeDir()
	if err != nil {
		return nil, err
	}
	v := viper.New()
	for key, env := range configKeys {
		if err := v.BindEnv(key, env); err != nil {
			return nil, err
		}
	}
	if flags != nil {
		if f := flags.Lookup("org"); f != nil {
			if err := v.BindPFlag("org", f); err != nil {
				return nil, err
			}
		}
	}
	v.SetDefault("workspace_root", defaultWorkspaceRoot(home))
	v.SetDefault("db", filepath.Join(home, "aifactory.db"))
	v.SetDefault("secret_key_file", filepath.Join(home, "secret.key"))
	v.SetDefault("org", "default")
	v.SetDefault("clone_timeout", "10m")
	v.SetDefault("clone_wait", "40s")
	v.SetDefault("clone_engine", "auto")
	v.SetDefault("allow_private_networks", os.Getenv("KUBERNETES_SERVICE_HOST") == "")
	v.SetDefault("allow_link_local", false)
	v.SetDefault("allow_http", false)
	v.SetDefault("log_level", "info")

	cfgFile := filepath.Join(home, "config.yaml")
	if _, err := os.Stat(cfgFile); err == nil {
		v.SetConfigFile(cfgFile)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read %s: %w; fix the YAML or remove the file", cfgFile, err)
		}
	}
	c := &Config{
		Home:                 home,
		WorkspaceRoot:        v.GetString("workspace_root"),
		DB:                   v.GetString("db"),
		SecretKeyFile:        v.GetString("secret_key_file"),
		Org:                  v.GetString("org"),
		AllowPrivateNetworks: v.GetBool("allow_private_networks"),
		AllowLinkLocal:       v.GetBool("allow_link_local"),
		AllowHTTP:            v.GetBool("allow_http"),
		CAFile:               v.GetString("ca_file"),
		LogLevel:             v.GetString("log_level"),
		LogFile:              v.GetString("log_file"),
		CloneEngine:          strings.ToLower(v.GetString("clone_engine")),
	}
	switch c.CloneEngine {
	case "auto", "git", "go-git":
	default:
		return nil, fmt.Errorf("AIFACTORY_CLONE_ENGINE is %q; use auto, git or go-git", c.CloneEngine)
	}
	for _, h := range strings.Split(v.GetString("allowed_hosts"), ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			c.AllowedHosts = append(c.AllowedHosts, h)
		}
	}
	if c.CloneTimeout, err = parseDuration(v.GetString("clone_timeout")); err != nil {
		return nil, fmt.Errorf("AIFACTORY_CLONE_TIMEOUT: %w", err)
	}
	if c.CloneWait, err = parseDuration(v.GetString("clone_wait")); err != nil {
		return nil, fmt.Errorf("AIFACTORY_CLONE_WAIT: %w", err)
	}
	for _, p := range []*string{&c.WorkspaceRoot, &c.DB, &c.SecretKeyFile} {
		if *p, err = filepath.Abs(expandHome(*p)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if u, err := os.UserHomeDir(); err == nil {
			return filepath.Join(u, p[2:])
		}
	}
	return p
}

// parseDuration accepts Go durations plus a day suffix ("30d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && fmt.Sprintf("%dd", n) == s && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration; use forms such as 30d, 12h or 90s", s)
	}
	return d, nil
}
