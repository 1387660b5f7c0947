module github.com/leakguard/leakguard

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	golang.org/x/term v0.48.0
)

require golang.org/x/sys v0.50.0 // indirect
