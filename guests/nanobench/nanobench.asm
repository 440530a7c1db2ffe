; nanobench.asm — wasmvisor's nanobenchmark kernel, after Adams & Agesen, "A comparison of
; software and hardware techniques for x86 virtualization" (ASPLOS 2006): the cost of the
; operations a virtual machine monitor makes expensive, each timed over a loop with RDTSC.
;
; Built with `nasm -f bin -I guests/nanobench/ -I guests/common/ -o nanobench.bin
; nanobench.asm`: a flat Multiboot v1 kernel (a.out kludge) loaded at 1 MiB, entered in 32-bit
; protected mode. It loads its own GDT (ring 0 and ring 3 code and data, a TSS), IDT (0-31:
; unexpected, except #DE and #PF, which go to the benchmarks' handlers; 0x80 and 0x81 at
; DPL 3), LTR, the SYSENTER MSRs, and turns paging on (identity map of the first 4 MiB).
;
; The benchmarks (cases.inc): syscall-int80 (ring 3 INT 0x80 to a handler that IRETs back),
; syscall-sysenter (ring 3 SYSENTER, SYSEXIT back), in (IN from port 0x80 at ring 0),
; cr-write (MOV CR0 with its own value), call-ret (a near call and return: the baseline),
; pgfault (a read of a not-present page whose #PF handler maps it; the loop unmaps it again),
; divzero (DIV by zero, the #DE handler skips the DIV), ptemod (a PTE's frame changed,
; INVLPG, a read through it). Each prints "  <name>: N iterations in C cycles, Q.FF
; cycles/iteration" (TSC delta / N), then "PASS nano.<name>" or "FAIL nano.<name> got X want Y
; (check N)" from its checks (handler counts, values read); then "nanobench: N passed, M
; failed" and the run exits through port 0xF4 with the failure count.
;
; Besides COM1, each benchmark writes its number (1-8) to port 0xE9 just before its first
; RDTSC and the number | 0x80 just after its second, so a host (perf/nanobench.ts) can take
; wall-clock time at both ends; on a machine without a debug console the writes go nowhere.
;
; wasmvisor's TSC counts retired instructions (plus halted time), so its cycle counts are
; exact and the same under --virt direct and --virt deprivileged; on QEMU and hardware only
; the PASS lines are expected to match.

BITS 32
ORG 0x00100000

%include "report.inc"
%include "selfcheck.inc"
%include "descriptors.inc"
%include "macros.inc"

%include "multiboot-aout.inc"

_start:
    FLAT_ENTRY
    push dword EFL_RSVD
    popfd
    mov al, 0xFF                    ; mask both 8259s
    out 0x21, al
    out 0xA1, al
    call install_tables
    call setup_paging

%include "cases.inc"

    jmp finish

%include "lib.inc"

; ---- data -------------------------------------------------------------------------------
    SELFCHECK_DATA "nano.", "nanobench: "
str_indent:         db "  ", 0
str_colon:          db ": ", 0
str_iterations:     db " iterations in ", 0
str_cycles:         db " cycles, ", 0
str_per_iteration:  db " cycles/iteration", 13, 10, 0
    align 4
ex_mode:        dd 0                ; selfcheck's exception flag: every exception here is unexpected

    align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF           ; 0x08 code, DPL 0, flat, accessed
    dq 0x00CF93000000FFFF           ; 0x10 data, DPL 0, flat
    dq 0x00CFFB000000FFFF           ; 0x18 code, DPL 3, flat
    dq 0x00CFF3000000FFFF           ; 0x20 data, DPL 3, flat
gdt_tss:                            ; 0x28 32-bit TSS (base filled in by install_tables)
    dw 0x67, 0
    db 0, 0x89, 0, 0
gdt_end:
TABLE_REGISTERS IDT_VECTORS

    align 4
load_end:

    absolute load_end
; What the benchmark loops write lives on its own page: a store to a page that holds code makes
; an emulator (and a real CPU) check its translations, which the benchmarks are not about.
    alignb 4096
iterations:     resd 1
bench_no:       resd 1
t_start:        resd 2
kernel_esp:     resd 1
r3_esp:         resd 1
sys_count:      resd 1
sysenter_count: resd 1
pf_count:       resd 1
de_count:       resd 1
    alignb 8
idt:        resb IDT_VECTORS * 8
    alignb 16
tss:        resb 0x68
    alignb 4096
page_directory: resb 4096
page_table: resb 4096
            resb 4096
stack_top:
            resb 4096
ring0_stack_top:
            resb 4096
sysenter_stack_top:
            resb 4096
ring3_stack_top:
bss_end:
