// Command gitrepo writes a git fast-import stream that builds a large,
// realistic history from real source text: each commit adds a file of a
// source tree (by default the Go distribution's own, $(go env GOROOT)/src)
// and edits one added before, a few commits plant well-formed fake
// credentials (some removed again later), and a side branch is merged
// every 500 commits. It prints the planted secrets to -labels.
//
//	go run ./bench/gitrepo -commits 10000 -labels planted.txt | git fast-import --quiet
package main

import (
	"bufio"
	"flag"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	src := flag.String("src", "", "source tree whose files make the history (default: $(go env GOROOT)/src)")
	commits := flag.Int("commits", 10000, "number of commits")
	labels := flag.String("labels", "", "write the planted secrets to this file, one per line")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	if *src == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gitrepo: go env GOROOT:", err)
			os.Exit(1)
		}
		*src = filepath.Join(strings.TrimSpace(string(out)), "src")
	}
	if err := run(*src, *commits, *labels, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gitrepo:", err)
		os.Exit(1)
	}
}

type file struct {
	path string
	body []byte
}

func run(src string, commits int, labelPath string, seed int64) error {
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.Contains(p, "/testdata/") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	r := rand.New(rand.NewSource(seed))
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()
	var planted []string
	var added []file
	when := int64(1700000000)
	authors := []string{"Ada Lovelace <ada@example.test>", "Grace Hopper <grace@example.test>", "Ken Thompson <ken@example.test>", "Barbara Liskov <barbara@example.test>"}

	mark := 0
	emit := func(ref, msg string, from string, merge string, ops []string) {
		when += 60
		mark++
		a := authors[r.Intn(len(authors))]
		fmt.Fprintf(out, "commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n", ref, mark, a, when, a, when, len(msg), msg)
		if from != "" {
			fmt.Fprintf(out, "from %s\n", from)
		}
		if merge != "" {
			fmt.Fprintf(out, "merge %s\n", merge)
		}
		for _, op := range ops {
			out.WriteString(op)
		}
		out.WriteString("\n")
	}
	inline := func(path string, body []byte) string {
		return fmt.Sprintf("M 100644 inline %s\ndata %d\n%s\n", path, len(body), body)
	}

	for i := 0; i < commits; i++ {
		var ops []string
		if i < len(files) {
			b, err := os.ReadFile(files[i])
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, files[i])
			added = append(added, file{rel, b})
			ops = append(ops, inline(rel, b))
		}
		if len(added) > 1 {
			// Edit an earlier file: change one line, as most commits do.
			k := r.Intn(len(added) - 1)
			f := &added[k]
			lines := strings.Split(string(f.body), "\n")
			j := r.Intn(len(lines))
			lines[j] = lines[j] + fmt.Sprintf(" // rev %d", i)
			f.body = []byte(strings.Join(lines, "\n"))
			ops = append(ops, inline(f.path, f.body))
		}
		if i%97 == 13 {
			// Plant a credential in a config file; every third one is
			// removed again 5 commits later (still in history).
			s := secret(r, len(planted))
			planted = append(planted, s)
			body := fmt.Sprintf("# service configuration %d\nendpoint = \"https://api.internal.test/v%d\"\ncredential = %s\n", i, i, s)
			ops = append(ops, inline(fmt.Sprintf("config/service%d.conf", i), []byte(body)))
		}
		if i%97 == 18 && (i/97)%3 == 0 {
			ops = append(ops, fmt.Sprintf("D config/service%d.conf\n", i-5))
		}
		emit("refs/heads/main", fmt.Sprintf("commit %d", i), "", "", ops)
		if i%500 == 499 {
			// A side branch with one commit, merged back.
			mainTip := fmt.Sprintf(":%d", mark)
			emit("refs/heads/side", fmt.Sprintf("side %d", i), mainTip, "",
				[]string{inline(fmt.Sprintf("side/notes%d.txt", i), []byte(fmt.Sprintf("notes for release %d\n", i)))})
			sideTip := fmt.Sprintf(":%d", mark)
			emit("refs/heads/main", fmt.Sprintf("merge side %d", i), mainTip, sideTip, nil)
		}
	}
	if labelPath != "" {
		return os.WriteFile(labelPath, []byte(strings.Join(planted, "\n")+"\n"), 0o644)
	}
	return nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randStr(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

// secret returns a well-formed fake credential of a type both LeakGuard
// and gitleaks know.
func secret(r *rand.Rand, n int) string {
	switch n % 4 {
	case 0: // GitHub classic PAT with a valid checksum
		body := randStr(r, base62, 30)
		v := crc32.ChecksumIEEE([]byte(body))
		sum := make([]byte, 6)
		for i := 5; i >= 0; i-- {
			sum[i] = base62[v%62]
			v /= 62
		}
		return "ghp_" + body + string(sum)
	case 1:
		return "xoxb-" + randStr(r, "0123456789", 11) + "-" + randStr(r, "0123456789", 12) + "-" + randStr(r, base62, 24)
	case 2:
		return "sk_live_" + randStr(r, base62, 32)
	default:
		return "glpat-" + randStr(r, base62, 20)
	}
}
