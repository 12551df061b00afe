// interop.go — an independent verifier for parley's C2SP artifacts, built on
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (Debian's
// golang-golang-x-mod-dev, x/mod 0.7.0) and the Go standard library.  It
// shares no code with parley: the formats x/mod 0.7.0 does not know
// (tlog-checkpoint, tlog-tiles paths and entry bundles, tlog-proof,
// tlog-cosignature) are parsed here, strictly, from the C2SP texts.
//
// tests/interop/run builds it in GOPATH mode (no network) and drives it.
// Every subcommand exits 0 on success and 1, with a message on stderr, on
// any failure; 2 on a usage error.
//
//	open-note VKEY NOTEFILE
//	    note.Open with VKEY; prints the note text.
//	sign-note TEXTFILE SKEYFILE...
//	    note.Sign of the text with each (Ed25519) signer key; prints the note.
//	gen-key NAME SKEYOUT
//	    note.GenerateKey; writes the signer key, prints the verifier key.
//	check-checkpoint VKEY NOTEFILE
//	    note.Open, then the strict tlog-checkpoint parse; prints a summary.
//	check-tiles VKEY DIR [--expect-entry INDEX FILE]...
//	    DIR is a tlog-tiles export: checkpoint, tile/L/N[.p/W] and
//	    tile/entries/N[.p/W].  Checks the exact set of files; reads every
//	    hash tile through tlog.TileHashReader (tlog.TreeHash must give the
//	    checkpoint root); tlog.RecordHash of every bundled entry against its
//	    level-0 hash so read; then recomputes from the entries alone
//	    (tlog.StoredHashes, tlog.TreeHash, tlog.ReadTileData) the root and
//	    the exact bytes of every tile.
//	check-proof VKEY ENTRYFILE PROOFFILE
//	    c2sp.org/tlog-proof@v1 parse, note.Open of its checkpoint,
//	    tlog.CheckRecord.
//	check-consistency VKEY OLDNOTE NEWNOTE PROOFFILE
//	    PROOFFILE holds one base64 hash a line; tlog.CheckTree.
//	check-cosig COSIGVKEY LOGVKEY FILE [--time T]
//	    FILE is a checkpoint note or a tlog-proof; verifies the
//	    tlog-cosignature/v1 (0x04) line of COSIGVKEY with crypto/ed25519.
//	cosign-note COSIGSKEYFILE LOGVKEY FILE TIME
//	    adds a tlog-cosignature/v1 line (made here with crypto/ed25519) to
//	    FILE (a checkpoint note or a tlog-proof); prints the result.
//	flip-byte FILE OFFSET
//	    XORs the byte at OFFSET (negative: from the end) with 0x01.
//
// A VKEY argument is a file holding a verifier key or the key itself.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	tileHeight    = 8
	tileWidth     = 1 << tileHeight
	proofHeader   = "c2sp.org/tlog-proof@v1"
	algEd25519    = 0x01
	algCosigV1    = 0x04
	maxEntryBytes = 65535
)

var prog = "interop"

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "%s: FAIL: %s\n", prog, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func usage(u string) {
	fmt.Fprintf(os.Stderr, "usage: interop %s\n", u)
	os.Exit(2)
}

func readFile(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	return b
}

// keyArg returns the key text in the file named arg, or arg itself when no
// such file exists.  One trailing newline is dropped.
func keyArg(arg string) string {
	b, err := os.ReadFile(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && strings.Contains(arg, "+") {
			return arg
		}
		fail("key %s: %v", arg, err)
	}
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	return s
}

func verifier(arg string) note.Verifier {
	v, err := note.NewVerifier(keyArg(arg))
	if err != nil {
		fail("verifier key %s: %v", arg, err)
	}
	return v
}

func openNote(v note.Verifier, msg []byte, what string) *note.Note {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("%s: note.Open with key %s: %v", what, v.Name(), err)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != v.Name() || n.Sigs[0].Hash != v.KeyHash() {
		fail("%s: note.Open did not report the signature of %s", what, v.Name())
	}
	return n
}

// ---------------------------------------------------------------------------
// tlog-checkpoint

type checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Ext    []string
}

// emptyRoot is the RFC 6962 hash of the empty tree, SHA-256("").  (tlog's
// TreeHash defines the empty tree's hash as all zeros instead.)
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// parseHash decodes one canonical standard-base64 SHA-256 hash.
func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	if len(s) != 44 {
		return h, fmt.Errorf("hash %q is not 44 base64 characters", s)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return h, fmt.Errorf("hash %q is not the canonical base64 of 32 bytes", s)
	}
	copy(h[:], b)
	return h, nil
}

// parseDecimal parses an ASCII decimal without sign or leading zeros.
func parseDecimal(s string) (int64, error) {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal number without leading zeros", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %v", s, err)
	}
	return n, nil
}

// parseCheckpoint parses a checkpoint note text (c2sp.org/tlog-checkpoint):
// origin, size, base64 root, then optional non-empty extension lines, each
// line ending in a newline.
func parseCheckpoint(text string) (checkpoint, error) {
	var c checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, errors.New("checkpoint text does not end in a newline")
	}
	lines := strings.Split(text[:len(text)-1], "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("checkpoint has %d lines, need at least 3", len(lines))
	}
	if lines[0] == "" {
		return c, errors.New("checkpoint origin is empty")
	}
	for _, r := range lines[0] {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return c, errors.New("checkpoint origin has a control character")
		}
	}
	c.Origin = lines[0]
	n, err := parseDecimal(lines[1])
	if err != nil {
		return c, fmt.Errorf("checkpoint size: %v", err)
	}
	c.Size = n
	if c.Root, err = parseHash(lines[2]); err != nil {
		return c, fmt.Errorf("checkpoint root: %v", err)
	}
	for _, l := range lines[3:] {
		if l == "" {
			return c, errors.New("checkpoint has an empty extension line")
		}
		c.Ext = append(c.Ext, l)
	}
	return c, nil
}

// openCheckpoint opens a checkpoint note signed by v and parses it; the
// origin must be the key's name (parley's convention, and the usual one).
func openCheckpoint(v note.Verifier, msg []byte, what string) (*note.Note, checkpoint) {
	n := openNote(v, msg, what)
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		fail("%s: %v", what, err)
	}
	if c.Origin != v.Name() {
		fail("%s: checkpoint origin %q is not the log key's name %q", what, c.Origin, v.Name())
	}
	if c.Size == 0 && c.Root != emptyRoot {
		fail("%s: empty tree's root is %s, want SHA-256(\"\") = %s", what, c.Root, emptyRoot)
	}
	return n, c
}

// ---------------------------------------------------------------------------
// tlog-tiles

// indexPath encodes N in 3-digit groups, all but the last prefixed "x".
func indexPath(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// tilePath is the C2SP tlog-tiles path: tile/<L>/<N>[.p/<W>], with
// L = "entries" for entry bundles (level < 0 here).
func tilePath(level int, n int64, w int) string {
	l := strconv.Itoa(level)
	if level < 0 {
		l = "entries"
	}
	p := "tile/" + l + "/" + indexPath(n)
	if w < tileWidth {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// dirTiles is a tlog.TileReader over an exported directory.
type dirTiles struct {
	dir  string
	read map[string]bool
}

func (d *dirTiles) Height() int { return tileHeight }

func (d *dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != tileHeight || t.L < 0 || t.W < 1 || t.W > tileWidth {
			return nil, fmt.Errorf("unexpected tile request %+v", t)
		}
		p := tilePath(t.L, t.N, t.W)
		// Cross-check the mapping against tlog's own naming, which only
		// differs by the height element (tile/8/L/...).
		if gp := t.Path(); gp != "tile/8/"+strings.TrimPrefix(p, "tile/") {
			return nil, fmt.Errorf("path mapping: %s vs tlog's %s", p, gp)
		}
		b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(p)))
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", p, len(b), t.W*tlog.HashSize)
		}
		d.read[p] = true
		out[i] = b
	}
	return out, nil
}

func (d *dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// expectedFiles lists every file a tlog-tiles export of a tree of the given
// size holds: the checkpoint, every full and partial hash tile of every
// level, and one entry bundle per level-0 tile.
func expectedFiles(size int64) (files map[string]bool, hashTiles []string) {
	files = map[string]bool{"checkpoint": true}
	for level := 0; ; level++ {
		base := size >> uint(tileHeight*level)
		if base == 0 {
			break
		}
		for n := int64(0); n*tileWidth < base; n++ {
			w := int(base - n*tileWidth)
			if w > tileWidth {
				w = tileWidth
			}
			p := tilePath(level, n, w)
			files[p] = true
			hashTiles = append(hashTiles, p)
			if level == 0 {
				files[tilePath(-1, n, w)] = true
			}
		}
	}
	return files, hashTiles
}

// readBundles parses every entry bundle of a tree of the given size:
// u16be length || entry, exactly W entries per bundle, nothing after.
func readBundles(dir string, size int64) [][]byte {
	var entries [][]byte
	for n := int64(0); n*tileWidth < size; n++ {
		w := int(size - n*tileWidth)
		if w > tileWidth {
			w = tileWidth
		}
		p := tilePath(-1, n, w)
		b := readFile(filepath.Join(dir, filepath.FromSlash(p)))
		off := 0
		for j := 0; j < w; j++ {
			i := n*tileWidth + int64(j)
			if len(b)-off < 2 {
				fail("%s: truncated before entry %d", p, i)
			}
			l := int(binary.BigEndian.Uint16(b[off:]))
			off += 2
			if len(b)-off < l {
				fail("%s: entry %d: length %d but only %d bytes left", p, i, l, len(b)-off)
			}
			entries = append(entries, b[off:off+l])
			off += l
		}
		if off != len(b) {
			fail("%s: %d trailing bytes after %d entries", p, len(b)-off, w)
		}
	}
	return entries
}

// memHashes is a tlog.HashReader over stored hashes kept in memory.
type memHashes []tlog.Hash

func (m *memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(*m)) {
			return nil, fmt.Errorf("stored hash %d not in memory", x)
		}
		out[i] = (*m)[x]
	}
	return out, nil
}

func cmdCheckTiles(args []string) {
	const u = "check-tiles VKEY DIR [--expect-entry INDEX FILE]..."
	if len(args) < 2 {
		usage(u)
	}
	v := verifier(args[0])
	dir := args[1]
	expect := map[int64][]byte{}
	for rest := args[2:]; len(rest) > 0; rest = rest[3:] {
		if len(rest) < 3 || rest[0] != "--expect-entry" {
			usage(u)
		}
		i, err := parseDecimal(rest[1])
		if err != nil {
			usage(u)
		}
		expect[i] = readFile(rest[2])
	}

	_, cp := openCheckpoint(v, readFile(filepath.Join(dir, "checkpoint")), dir+"/checkpoint")
	size := cp.Size

	// 1. The exact set of files.
	want, hashTiles := expectedFiles(size)
	have := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !de.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		have[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		fail("%s: %v", dir, err)
	}
	// A node's export (parley export) keeps the log's verifier key, and the
	// cosigner's, beside the tiles.
	delete(have, "vkey")
	delete(have, "cosigner.vkey")
	var missing, extra []string
	for p := range want {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	for p := range have {
		if !want[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		fail("%s: size %d: missing %d files, first %s", dir, size, len(missing), missing[0])
	}
	if len(extra) > 0 {
		fail("%s: size %d: %d unexpected files, first %s", dir, size, len(extra), extra[0])
	}
	if size == 0 {
		if len(expect) > 0 {
			fail("--expect-entry on an empty log")
		}
		fmt.Printf("tiles ok: %s size 0 (empty tree root SHA-256(\"\"), no tiles)\n", cp.Origin)
		return
	}

	// 2. The client's path: tlog.TileHashReader over the tiles, which
	// authenticates what it reads against the checkpoint's tree hash.
	tr := &dirTiles{dir: dir, read: map[string]bool{}}
	tree := tlog.Tree{N: size, Hash: cp.Root}
	thr := tlog.TileHashReader(tree, tr)
	root, err := tlog.TreeHash(size, thr)
	if err != nil {
		fail("%s: tlog.TreeHash over the tiles: %v", dir, err)
	}
	if root != cp.Root {
		fail("%s: tlog.TreeHash over the tiles = %s, checkpoint root %s", dir, root, cp.Root)
	}
	// Every stored hash in the bottom row of every tile level (tree levels
	// 0, 8, 16, ...), which reads every hash tile.
	var indexes []int64
	levels := 0
	for level := 0; size>>uint(tileHeight*level) > 0; level++ {
		levels++
		for k := int64(0); k < size>>uint(tileHeight*level); k++ {
			indexes = append(indexes, tlog.StoredHashIndex(tileHeight*level, k))
		}
	}
	hashes, err := thr.ReadHashes(indexes)
	if err != nil {
		fail("%s: reading all hash tiles through tlog.TileHashReader: %v", dir, err)
	}
	if len(hashes) != len(indexes) {
		fail("%s: ReadHashes returned %d hashes for %d indexes", dir, len(hashes), len(indexes))
	}
	for _, p := range hashTiles {
		if !tr.read[p] {
			fail("%s: tile %s was never read (test bug?)", dir, p)
		}
	}

	// 3. Entry bundles: tlog.RecordHash of each entry against its level-0
	// hash as read through the TileHashReader (hashes[0:size]).
	entries := readBundles(dir, size)
	if int64(len(entries)) != size {
		fail("%s: %d entries in the bundles, want %d", dir, len(entries), size)
	}
	var entryBytes int64
	maxLen := 0
	for i, e := range entries {
		if rh := tlog.RecordHash(e); rh != hashes[i] {
			fail("entry %d: tlog.RecordHash %s != level-0 hash %s read through tlog.TileHashReader", i, rh, hashes[i])
		}
		if want, ok := expect[int64(i)]; ok {
			if !bytes.Equal(e, want) {
				fail("entry %d: %d bytes, not the expected %d bytes", i, len(e), len(want))
			}
			delete(expect, int64(i))
		}
		if len(e) > maxLen {
			maxLen = len(e)
		}
		entryBytes += int64(len(e))
	}
	if len(expect) > 0 {
		fail("--expect-entry index beyond the log's size %d", size)
	}
	// Single-index reads, as a client looking up one record would.
	for _, i := range []int64{0, size / 3, size / 2, size - 1} {
		h1, err := thr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil || len(h1) != 1 || h1[0] != tlog.RecordHash(entries[i]) {
			fail("entry %d: ReadHashes(StoredHashIndex(0, %d)) = %v, %v", i, i, h1, err)
		}
	}

	// 4. Recompute, independently of the tiles, everything the log must
	// publish: tlog.StoredHashes of the entries, the tree hash, and the
	// exact bytes of every tile (tlog.ReadTileData).  x/mod 0.7.0's
	// TileHashReader does not authenticate every tile it returns (its
	// parent-check loop starts at len(stx), not at the number of distinct
	// tiles holding stx), so step 2 alone would miss some tampering.
	mem := make(memHashes, 0, tlog.StoredHashCount(size))
	for i, e := range entries {
		sh, err := tlog.StoredHashes(int64(i), e, &mem)
		if err != nil {
			fail("tlog.StoredHashes(%d): %v", i, err)
		}
		mem = append(mem, sh...)
	}
	if r2, err := tlog.TreeHash(size, &mem); err != nil || r2 != cp.Root {
		fail("tlog.TreeHash over the entries = %s (%v), checkpoint root %s", r2, err, cp.Root)
	}
	for level := 0; size>>uint(tileHeight*level) > 0; level++ {
		base := size >> uint(tileHeight*level)
		for n := int64(0); n*tileWidth < base; n++ {
			w := int(base - n*tileWidth)
			if w > tileWidth {
				w = tileWidth
			}
			t := tlog.Tile{H: tileHeight, L: level, N: n, W: w}
			wantData, err := tlog.ReadTileData(t, &mem)
			if err != nil {
				fail("tlog.ReadTileData(%v): %v", t, err)
			}
			p := tilePath(level, n, w)
			if !bytes.Equal(readFile(filepath.Join(dir, filepath.FromSlash(p))), wantData) {
				fail("%s: differs from the tile tlog computes from the entries", p)
			}
		}
	}

	fmt.Printf("tiles ok: %s size %d root %s: %d tile levels, %d hash tiles, %d entry bundles, %d entries (%d bytes, largest %d)\n",
		cp.Origin, size, cp.Root, levels, len(hashTiles), len(want)-1-len(hashTiles), len(entries), entryBytes, maxLen)
}

// ---------------------------------------------------------------------------
// tlog-proof

type tlogProof struct {
	Extra    []byte
	HasExtra bool
	Index    int64
	Proof    []tlog.Hash
	Note     []byte
}

func parseProof(b []byte) (tlogProof, error) {
	var p tlogProof
	s := string(b)
	next := func(what string) (string, error) {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return "", fmt.Errorf("tlog-proof: missing %s (no newline)", what)
		}
		l := s[:i]
		s = s[i+1:]
		return l, nil
	}
	l, err := next("header")
	if err != nil {
		return p, err
	}
	if l != proofHeader {
		return p, fmt.Errorf("tlog-proof: first line %q is not %s", l, proofHeader)
	}
	if l, err = next("index line"); err != nil {
		return p, err
	}
	if strings.HasPrefix(l, "extra ") {
		x, err := base64.StdEncoding.Strict().DecodeString(l[6:])
		if err != nil {
			return p, fmt.Errorf("tlog-proof: extra: %v", err)
		}
		p.Extra, p.HasExtra = x, true
		if l, err = next("index line"); err != nil {
			return p, err
		}
	}
	if !strings.HasPrefix(l, "index ") {
		return p, fmt.Errorf("tlog-proof: expected \"index N\", got %q", l)
	}
	if p.Index, err = parseDecimal(l[6:]); err != nil {
		return p, fmt.Errorf("tlog-proof: index: %v", err)
	}
	for {
		if l, err = next("blank line before the checkpoint"); err != nil {
			return p, err
		}
		if l == "" {
			break
		}
		h, err := parseHash(l)
		if err != nil {
			return p, fmt.Errorf("tlog-proof: proof line %d: %v", len(p.Proof)+1, err)
		}
		p.Proof = append(p.Proof, h)
	}
	if s == "" {
		return p, errors.New("tlog-proof: missing checkpoint")
	}
	p.Note = []byte(s)
	return p, nil
}

func cmdCheckProof(args []string) {
	if len(args) != 3 {
		usage("check-proof VKEY ENTRYFILE PROOFFILE")
	}
	v := verifier(args[0])
	entry := readFile(args[1])
	if len(entry) > maxEntryBytes {
		fail("%s: %d bytes, over the 65535-byte entry limit", args[1], len(entry))
	}
	p, err := parseProof(readFile(args[2]))
	if err != nil {
		fail("%s: %v", args[2], err)
	}
	n, cp := openCheckpoint(v, p.Note, args[2]+" checkpoint")
	if p.Index >= cp.Size {
		fail("%s: index %d is not in a tree of size %d", args[2], p.Index, cp.Size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(p.Proof), cp.Size, cp.Root, p.Index, tlog.RecordHash(entry)); err != nil {
		fail("%s: tlog.CheckRecord(index %d, size %d): %v", args[2], p.Index, cp.Size, err)
	}
	extra := ""
	if p.HasExtra {
		extra = fmt.Sprintf(", %d bytes of extra data", len(p.Extra))
	}
	fmt.Printf("proof ok: entry %d (%d bytes) in %s size %d, %d proof hashes, %d other signatures ignored%s\n",
		p.Index, len(entry), cp.Origin, cp.Size, len(p.Proof), len(n.UnverifiedSigs), extra)
}

// ---------------------------------------------------------------------------
// consistency

func parseHashLines(b []byte) ([]tlog.Hash, error) {
	s := string(b)
	if s == "" {
		return nil, nil
	}
	if !strings.HasSuffix(s, "\n") {
		return nil, errors.New("last line does not end in a newline")
	}
	var out []tlog.Hash
	for i, l := range strings.Split(s[:len(s)-1], "\n") {
		h, err := parseHash(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		out = append(out, h)
	}
	return out, nil
}

func cmdCheckConsistency(args []string) {
	if len(args) != 4 {
		usage("check-consistency VKEY OLDNOTE NEWNOTE PROOFFILE")
	}
	v := verifier(args[0])
	_, oc := openCheckpoint(v, readFile(args[1]), args[1])
	_, nc := openCheckpoint(v, readFile(args[2]), args[2])
	proof, err := parseHashLines(readFile(args[3]))
	if err != nil {
		fail("%s: %v", args[3], err)
	}
	if oc.Size > nc.Size {
		fail("old size %d is larger than new size %d", oc.Size, nc.Size)
	}
	if oc.Size == 0 {
		// tlog.CheckTree needs n >= 1; from the empty tree the proof is
		// empty (root checked in openCheckpoint).
		if len(proof) != 0 {
			fail("%s: %d hashes in a proof from the empty tree, want none", args[3], len(proof))
		}
	} else if err := tlog.CheckTree(tlog.TreeProof(proof), nc.Size, nc.Root, oc.Size, oc.Root); err != nil {
		fail("%s: tlog.CheckTree(%d -> %d): %v", args[3], oc.Size, nc.Size, err)
	}
	fmt.Printf("consistency ok: %s %d -> %d, %d proof hashes\n", nc.Origin, oc.Size, nc.Size, len(proof))
}

// ---------------------------------------------------------------------------
// tlog-cosignature

func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 &&
		!strings.Contains(name, "+")
}

func keyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// parseKey splits name+hex8+base64(alg||key32) and checks the key ID.
func parseKey(s string, private bool) (name string, id uint32, alg byte, key []byte, err error) {
	if private {
		if !strings.HasPrefix(s, "PRIVATE+KEY+") {
			return "", 0, 0, nil, errors.New("signer key does not start with PRIVATE+KEY+")
		}
		s = s[len("PRIVATE+KEY+"):]
	}
	// name+hex8+base64: the name has no '+', the base64 may.
	f := strings.SplitN(s, "+", 3)
	if len(f) != 3 || !validName(f[0]) || len(f[1]) != 8 {
		return "", 0, 0, nil, fmt.Errorf("malformed key %q", s)
	}
	x, err := strconv.ParseUint(f[1], 16, 32)
	if err != nil {
		return "", 0, 0, nil, fmt.Errorf("key id %q: %v", f[1], err)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(f[2])
	if err != nil || len(raw) != 33 {
		return "", 0, 0, nil, fmt.Errorf("key material is not base64 of 33 bytes")
	}
	name, id, alg, key = f[0], uint32(x), raw[0], raw[1:]
	pub := key
	if private {
		pub = ed25519.NewKeyFromSeed(key).Public().(ed25519.PublicKey)
	}
	if keyID(name, alg, pub) != id {
		return "", 0, 0, nil, fmt.Errorf("key id %08x is not SHA-256(name || \\n || 0x%02x || key)[:4] = %08x",
			id, alg, keyID(name, alg, pub))
	}
	return name, id, alg, key, nil
}

func cosigMessage(t uint64, text string) []byte {
	return []byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t) + text)
}

// noteOf returns the note in FILE: the file itself, or the checkpoint of a
// tlog-proof.
func noteOf(b []byte, what string) []byte {
	if bytes.HasPrefix(b, []byte(proofHeader+"\n")) {
		p, err := parseProof(b)
		if err != nil {
			fail("%s: %v", what, err)
		}
		return p.Note
	}
	return b
}

func cmdCheckCosig(args []string) {
	const u = "check-cosig COSIGVKEY LOGVKEY FILE [--time T]"
	if len(args) != 3 && len(args) != 5 {
		usage(u)
	}
	var wantTime int64 = -1
	if len(args) == 5 {
		if args[3] != "--time" {
			usage(u)
		}
		t, err := parseDecimal(args[4])
		if err != nil {
			usage(u)
		}
		wantTime = t
	}
	name, id, alg, pub, err := parseKey(keyArg(args[0]), false)
	if err != nil {
		fail("cosigner key: %v", err)
	}
	if alg != algCosigV1 {
		fail("cosigner key %s has type 0x%02x, not 0x04 (tlog-cosignature/v1)", name, alg)
	}
	logv := verifier(args[1])
	n, cp := openCheckpoint(logv, noteOf(readFile(args[2]), args[2]), args[2])
	found := 0
	var ts uint64
	for _, s := range n.UnverifiedSigs {
		if s.Name != name || s.Hash != id {
			continue
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(s.Base64)
		if err != nil {
			fail("%s: cosignature of %s is not base64", args[2], name)
		}
		if len(raw) != 4+8+ed25519.SignatureSize {
			fail("%s: cosignature of %s is %d bytes, want 76", args[2], name, len(raw))
		}
		if binary.BigEndian.Uint32(raw) != id {
			fail("%s: cosignature key id mismatch", args[2])
		}
		ts = binary.BigEndian.Uint64(raw[4:])
		if ts > math.MaxInt64 {
			fail("%s: cosignature timestamp %d over 2^63-1", args[2], ts)
		}
		if !ed25519.Verify(ed25519.PublicKey(pub), cosigMessage(ts, n.Text), raw[12:]) {
			fail("%s: cosignature of %s (time %d) does not verify", args[2], name, ts)
		}
		found++
	}
	if found == 0 {
		fail("%s: no cosignature line from %s+%08x", args[2], name, id)
	}
	if wantTime >= 0 && ts != uint64(wantTime) {
		fail("%s: cosignature time %d, want %d", args[2], ts, wantTime)
	}
	fmt.Printf("cosignature ok: %s cosigned %s size %d at time %d\n", name, cp.Origin, cp.Size, ts)
}

func cmdCosignNote(args []string) {
	if len(args) != 4 {
		usage("cosign-note COSIGSKEYFILE LOGVKEY FILE TIME")
	}
	name, id, alg, seed, err := parseKey(keyArg(args[0]), true)
	if err != nil {
		fail("cosigner signer key: %v", err)
	}
	if alg != algCosigV1 {
		fail("%s is not a 0x04 cosigner key", name)
	}
	t, err := parseDecimal(args[3])
	if err != nil {
		fail("time: %v", err)
	}
	logv := verifier(args[1])
	b := readFile(args[2])
	n, _ := openCheckpoint(logv, noteOf(b, args[2]), args[2])
	raw := make([]byte, 12, 12+ed25519.SignatureSize)
	binary.BigEndian.PutUint32(raw, id)
	binary.BigEndian.PutUint64(raw[4:], uint64(t))
	raw = append(raw, ed25519.Sign(ed25519.NewKeyFromSeed(seed), cosigMessage(uint64(t), n.Text))...)
	os.Stdout.Write(b)
	fmt.Printf("— %s %s\n", name, base64.StdEncoding.EncodeToString(raw))
}

// ---------------------------------------------------------------------------
// notes and keys

func cmdOpenNote(args []string) {
	if len(args) != 2 {
		usage("open-note VKEY NOTEFILE")
	}
	n := openNote(verifier(args[0]), readFile(args[1]), args[1])
	fmt.Print(n.Text)
}

func cmdCheckCheckpoint(args []string) {
	if len(args) != 2 {
		usage("check-checkpoint VKEY NOTEFILE")
	}
	n, cp := openCheckpoint(verifier(args[0]), readFile(args[1]), args[1])
	fmt.Printf("checkpoint ok: %s size %d root %s, %d extension lines, %d other signatures\n",
		cp.Origin, cp.Size, cp.Root, len(cp.Ext), len(n.UnverifiedSigs))
}

func cmdSignNote(args []string) {
	if len(args) < 2 {
		usage("sign-note TEXTFILE SKEYFILE...")
	}
	var signers []note.Signer
	for _, k := range args[1:] {
		s, err := note.NewSigner(keyArg(k))
		if err != nil {
			fail("signer key %s: %v", k, err)
		}
		signers = append(signers, s)
	}
	msg, err := note.Sign(&note.Note{Text: string(readFile(args[0]))}, signers...)
	if err != nil {
		fail("note.Sign: %v", err)
	}
	os.Stdout.Write(msg)
}

func cmdGenKey(args []string) {
	if len(args) != 2 {
		usage("gen-key NAME SKEYOUT")
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, args[0])
	if err != nil {
		fail("note.GenerateKey: %v", err)
	}
	if err := os.WriteFile(args[1], []byte(skey+"\n"), 0600); err != nil {
		fail("%v", err)
	}
	fmt.Println(vkey)
}

func cmdFlipByte(args []string) {
	if len(args) != 2 {
		usage("flip-byte FILE OFFSET")
	}
	b := readFile(args[0])
	off, err := strconv.Atoi(args[1])
	if err != nil {
		usage("flip-byte FILE OFFSET")
	}
	if off < 0 {
		off += len(b)
	}
	if off < 0 || off >= len(b) {
		fail("%s: offset %s outside %d bytes", args[0], args[1], len(b))
	}
	b[off] ^= 0x01
	if err := os.WriteFile(args[0], b, 0644); err != nil {
		fail("%v", err)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage("open-note|sign-note|gen-key|check-checkpoint|check-tiles|check-proof|check-consistency|check-cosig|cosign-note|flip-byte ...")
	}
	prog = "interop " + os.Args[1]
	cmds := map[string]func([]string){
		"open-note":         cmdOpenNote,
		"sign-note":         cmdSignNote,
		"gen-key":           cmdGenKey,
		"check-checkpoint":  cmdCheckCheckpoint,
		"check-tiles":       cmdCheckTiles,
		"check-proof":       cmdCheckProof,
		"check-consistency": cmdCheckConsistency,
		"check-cosig":       cmdCheckCosig,
		"cosign-note":       cmdCosignNote,
		"flip-byte":         cmdFlipByte,
	}
	f, ok := cmds[os.Args[1]]
	if !ok {
		usage("open-note|sign-note|gen-key|check-checkpoint|check-tiles|check-proof|check-consistency|check-cosig|cosign-note|flip-byte ...")
	}
	f(os.Args[2:])
}
