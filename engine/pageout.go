package engine

import (
	"bufio"
	"encoding/binary"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropText drops this process's resident pages of its own executable's
// read-only segments (text, read-only data). A supervisor touches about
// 8.5 MB of urun's text and tables to start a container and almost none
// while it waits and copies output; a lone shared supervisor counts all
// of them in its PSS. They are clean pages of a private file mapping, so
// MADV_DONTNEED only unmaps them: a later access faults them back in
// from the page cache (MADV_PAGEOUT would free them, but the kernel does
// it only for a file the caller may write, and urun is root's). The
// RELRO page, written by the dynamic loader before it became read-only,
// is left alone. Measured in docs/BENCHMARKS.md (B5).
func dropText() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	relro, pie, ok := relroRange(exe)
	if !ok {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	page := uint64(os.Getpagesize())
	var bias *uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00402000-00874000 r-xp 00002000 fe:01 1234 /path/to/urun
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || (fields[1] != "r-xp" && fields[1] != "r--p") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		if off == 0 && bias == nil {
			b := start // a position-independent executable's load bias
			bias = &b
		}
		lo2, hi2 := relro[0], relro[1]
		if pie {
			if bias == nil {
				continue
			}
			lo2, hi2 = lo2+*bias, hi2+*bias
		}
		if start < (hi2+page-1)/page*page && lo2/page*page < end {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}

// relroRange is the address range of exe's PT_GNU_RELRO segment ([0,0)
// when it has none), relative to its load address when pie; ok is false
// when exe cannot be read as a 64-bit little-endian ELF file (amd64,
// arm64). It reads the header and program headers itself: debug/elf
// would bring compress/zlib, flate and internal/zstd, and their package
// inits, into every urun start (docs/BENCHMARKS.md, issue 25 fourth
// round).
func relroRange(exe string) (r [2]uint64, pie, ok bool) {
	f, err := os.Open(exe)
	if err != nil {
		return r, false, false
	}
	defer f.Close()
	var h [64]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return r, false, false
	}
	if string(h[:4]) != "\x7fELF" || h[4] != 2 || h[5] != 1 { // ELFCLASS64, ELFDATA2LSB
		return r, false, false
	}
	le := binary.LittleEndian
	pie = le.Uint16(h[16:]) == 3 // ET_DYN
	phoff, phentsize, phnum := le.Uint64(h[32:]), uint64(le.Uint16(h[54:])), uint64(le.Uint16(h[56:]))
	if phentsize < 56 || phnum > 1<<12 {
		return r, false, false
	}
	ph := make([]byte, phentsize*phnum)
	if _, err := f.ReadAt(ph, int64(phoff)); err != nil {
		return r, false, false
	}
	for i := uint64(0); i < phnum; i++ {
		p := ph[i*phentsize:]
		if le.Uint32(p) == 0x6474e552 { // PT_GNU_RELRO
			vaddr, memsz := le.Uint64(p[16:]), le.Uint64(p[40:])
			return [2]uint64{vaddr, vaddr + memsz}, pie, true
		}
	}
	return r, pie, true
}
