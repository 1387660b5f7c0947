package detect

// keywordMatcher finds every occurrence of a set of keywords in one pass,
// ASCII case-insensitively. It is an Aho-Corasick automaton compiled to a
// dense DFA over byte classes: one table lookup per input byte.
type keywordMatcher struct {
	class    [256]uint8 // byte -> class; class 0 is "not in any keyword"
	nclass   int
	next     []int32   // state*nclass + class -> state (construction only)
	delta    []int32   // row offset of state + class -> next row offset<<1 | ends-a-keyword
	out      [][]int32 // state -> keyword indices ending here
	keywords []string
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func newKeywordMatcher(keywords []string) *keywordMatcher {
	m := &keywordMatcher{keywords: keywords}
	// Byte classes: one per distinct lower-cased byte used in a keyword.
	n := 1
	for _, k := range keywords {
		for i := 0; i < len(k); i++ {
			c := lower(k[i])
			if m.class[c] == 0 {
				if n == 255 {
					panic("keyword alphabet exceeds 254 bytes")
				}
				m.class[c] = uint8(n)
				n++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		m.class[c] = m.class[c+'a'-'A']
	}
	m.nclass = n

	// Trie.
	type node struct {
		child map[uint8]int32
		fail  int32
		out   []int32
	}
	nodes := []node{{child: map[uint8]int32{}}}
	for ki, k := range keywords {
		s := int32(0)
		for i := 0; i < len(k); i++ {
			c := m.class[lower(k[i])]
			nx, ok := nodes[s].child[c]
			if !ok {
				nodes = append(nodes, node{child: map[uint8]int32{}})
				nx = int32(len(nodes) - 1)
				nodes[s].child[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(ki))
	}

	// Breadth-first: failure links and the dense transition table.
	m.next = make([]int32, len(nodes)*n)
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < n; c++ {
		if nx, ok := nodes[0].child[uint8(c)]; ok {
			m.next[c] = nx
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		nodes[s].out = append(nodes[s].out, nodes[f].out...)
		for c := 0; c < n; c++ {
			if nx, ok := nodes[s].child[uint8(c)]; ok {
				nodes[nx].fail = m.next[int(f)*n+c]
				m.next[int(s)*n+c] = nx
				queue = append(queue, nx)
			} else {
				m.next[int(s)*n+c] = m.next[int(f)*n+c]
			}
		}
	}
	m.out = make([][]int32, len(nodes))
	for i := range nodes {
		m.out[i] = nodes[i].out
	}
	// Premultiply: each entry is the next state's row offset, shifted
	// left once, with the low bit set when that state ends a keyword. The
	// scan loop then does one class load and one table load per byte.
	m.delta = make([]int32, len(m.next))
	for i, nx := range m.next {
		v := nx * int32(n) << 1
		if len(nodes[nx].out) > 0 {
			v |= 1
		}
		m.delta[i] = v
	}
	m.next = nil
	return m
}

// scan calls hit with the keyword index and the offset just past the
// keyword's last byte, for every occurrence in text, in order of end offset.
func (m *keywordMatcher) scan(text []byte, hit func(kw int, end int)) {
	var row int32
	delta, class, n := m.delta, &m.class, int32(m.nclass)
	for i, c := range text {
		v := delta[row+int32(class[c])]
		row = v >> 1
		if v&1 != 0 {
			for _, k := range m.out[row/n] {
				hit(int(k), i+1)
			}
		}
	}
}
