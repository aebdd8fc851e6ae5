package config

import (
	"strings"
	"unicode"
)

// closestName returns the candidate that word most likely misspells, or ""
// when none is close. Case, '_' and '-' are ignored, so "health_check"
// suggests "healthCheck"; beyond that a few typed characters may differ,
// more for longer words.
func closestName(word string, candidates []string) string {
	const longest = 64 // longer words are not typos of a key
	w := foldKey(word)
	if w == "" || len(w) > longest {
		return ""
	}
	best, bestDist := "", len(w)+longest
	for _, c := range candidates {
		if dist := editDistance(w, foldKey(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	allowed := 1
	switch n := len([]rune(w)); {
	case n > 8:
		allowed = 3
	case n > 4:
		allowed = 2
	}
	if bestDist > allowed {
		return ""
	}
	return best
}

// foldKey lowercases s and drops the separators people put between words.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// editDistance counts the single-character insertions, deletions,
// substitutions and swaps of adjacent characters that turn a into b.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	// prev2, prev and cur are three rows of the usual table.
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}
