// Command corpus builds LeakGuard's labelled accuracy corpus and scores
// scanners' reports against it.
//
// Generate (deterministic for a seed and a Go distribution):
//
//	go run ./bench/corpus -seed 1 -out DIR [-labels META_DIR]
//
// writes a tree of realistic files holding well-formed fake credentials
// and decoys under DIR, plus labels.json (every planted credential) and
// decoys.json (every look-alike that is not one) in META_DIR (default
// DIR; keep them out of the scanned tree or they are scanned too).
//
// Score (see bench/accuracy.sh for the rules):
//
//	go run ./bench/corpus -score -corpus DIR -labels META_DIR \
//	    -leakguard lg.json -gitleaks gl.json [-v]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

func main() {
	var (
		seed       = flag.Int64("seed", 1, "random seed: a seed names a corpus")
		out        = flag.String("out", "", "generate the corpus into `DIR`")
		labels     = flag.String("labels", "", "`DIR` of labels.json and decoys.json (default: the corpus directory)")
		goroot     = flag.String("goroot", "", "Go distribution whose source is the clean background (default: go env GOROOT)")
		background = flag.Int("background", 200, "number of clean standard-library files to copy under src/")
		score      = flag.Bool("score", false, "score reports instead of generating")
		dir        = flag.String("corpus", "", "scored corpus `DIR`, as it was given to the scanners")
		lg         = flag.String("leakguard", "", "LeakGuard JSON report `FILE`")
		gl         = flag.String("gitleaks", "", "gitleaks JSON report `FILE`")
		verbose    = flag.Bool("v", false, "list every miss and false positive")
	)
	flag.Parse()
	var err error
	switch {
	case *score:
		if *dir == "" {
			err = fmt.Errorf("-score needs -corpus")
			break
		}
		meta := *labels
		if meta == "" {
			meta = *dir
		}
		err = runScore(os.Stdout, *dir, meta, []tool{{"leakguard", *lg, loadLeakGuard}, {"gitleaks", *gl, loadGitleaks}}, *verbose)
	case *out != "":
		err = generate(*seed, *out, *labels, *goroot, *background)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

func generate(seed int64, out, meta, goroot string, background int) error {
	if goroot == "" {
		b, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return fmt.Errorf("go env GOROOT: %w", err)
		}
		goroot = strings.TrimSpace(string(b))
	}
	c := newCorpus(seed)
	c.build()
	if err := c.check(); err != nil {
		return fmt.Errorf("internal error: %w", err)
	}
	if background > 0 {
		// a generator of its own, so template changes leave it alone
		if err := c.background(newGen(seed), goroot, background); err != nil {
			return err
		}
	}
	if meta == "" {
		meta = out
	}
	if err := c.write(out); err != nil {
		return err
	}
	if err := c.writeMeta(meta); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "corpus: seed %d: %d files, %d credentials, %d decoys in %s\n", seed, len(c.files), len(c.labels), len(c.decoys), out)
	return nil
}
