package engine

import (
	"bufio"
	"debug/elf"
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
// when exe cannot be read as ELF.
func relroRange(exe string) (r [2]uint64, pie, ok bool) {
	f, err := elf.Open(exe)
	if err != nil {
		return r, false, false
	}
	defer f.Close()
	pie = f.Type == elf.ET_DYN
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_RELRO {
			return [2]uint64{p.Vaddr, p.Vaddr + p.Memsz}, pie, true
		}
	}
	return r, pie, true
}
