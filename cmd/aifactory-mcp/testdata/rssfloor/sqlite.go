//go:build floor_sqlite || floor_deps

package main

import (
	"database/sql"
	"os"

	_ "modernc.org/sqlite"
)

func init() {
	steps = append(steps, func() {
		db, err := sql.Open("sqlite", "file:"+os.Getenv("AIFACTORY_DB")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(15000)")
		if err != nil {
			os.Exit(1)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
			os.Exit(1)
		}
	})
}
