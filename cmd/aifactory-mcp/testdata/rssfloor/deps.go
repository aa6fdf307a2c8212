//go:build floor_deps

package main

import (
	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func init() {
	steps = append(steps, func() {
		v := viper.New()
		v.SetEnvPrefix("AIFACTORY")
		v.AutomaticEnv()
		v.SetDefault("home", "")
		_ = v.GetString("home")
		cmd := &cobra.Command{Use: "rssfloor", Run: func(*cobra.Command, []string) {}}
		cmd.SetArgs(nil)
		if err := cmd.Execute(); err != nil {
			panic(err)
		}
		_ = git.ErrRepositoryNotExists
	})
}
