; transparency.asm — wasmvisor's transparency kernel: every way a kernel can ask the CPU what
; privilege level it really runs at, so that the deprivileging monitor (--virt deprivileged,
; which runs guest ring 0 at ring 1) can be shown to give the answers ring 0 gets.
;
; Built with `nasm -f bin -I guests/transparency/ -I guests/common/ -o transparency.bin
; transparency.asm`: a flat Multiboot v1 kernel (a.out kludge) loaded at 1 MiB, entered in
; 32-bit protected mode. It loads its own GDT (ring 0 and ring 3 code and data, a TSS with an
; I/O bitmap, call gates at DPL 3 and 0, a conforming ring-0 segment, an LDT), IDT (0-31:
; one handler that records vector, error code, saved EIP and CS; 0x40 at DPL 0 and 0x80 at
; DPL 3: handlers that record their frame and their own CS and SS) and LTR; masks the 8259s.
;
; The cases ask: CS and SS by MOV, PUSH and ARPL; PUSHFD; POPFD's and IRETD's effect on IF and
; IOPL; CLI/STI; SGDT/SIDT/SLDT/STR/SMSW against what was loaded; LAR/LSL/VERR/VERW on its
; own segments, the TSS, the LDT and a conforming segment; the CS pushed by INT n, #UD,
; INT3, #GP (and its error code), far CALL and a call gate; far JMP/RETF/IRETD to RPL-0
; selectors; MOV/POP/LSS to SS with RPL 0; an LDT segment; I/O to a port the bitmap denies
; (allowed at CPL 0 since CPL <= IOPL); RDTSC under CR4.TSD, MOV DRn, RDMSR/WRMSR, CLTS,
; WBINVD, INVLPG; the x87's recorded FCS and FDS (FNSTENV; not FXSAVE, where QEMU stores 0
; as later CPUs with deprecated FCS/FDS do, unlike the P6); supervisor writes to a
; read-only page with CR0.WP clear and set (#PF error code without U); then ring 3 (IRETD):
; its CS and SS, LAR of the conforming ring-0 segment, INT 0x80 and the call gate (the frame's
; CS, SS, ESP and the handler's own CS and SS), a #PF from ring 3 (error code 5), CLI and a
; denied port (#GP), an allowed port, SYSENTER (CS and SS in the handler), and SYSEXIT.
;
; Each case shows what it read ("  label = XXXXXXXX") and prints "PASS trans.<name>" or
; "FAIL trans.<name> got X want Y (check N)"; then "trans: N passed, M failed", and the
; run exits through port 0xF4 with the failure count. test/guests-transparency.test.ts runs
; it under --virt direct and --virt deprivileged and fails on any difference. The expected
; values are ring 0's on an i686 (SDM Vol. 3A), checked under QEMU 7.2 (TCG).

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
    mov al, 0xFF                    ; mask both 8259s: no interrupt while a case sets IF
    out 0x21, al
    out 0xA1, al
    call install_tables

%include "cases.inc"

    jmp finish

%include "lib.inc"

; ---- data -------------------------------------------------------------------------------
    SELFCHECK_DATA "trans.", "trans: "
str_indent:     db "  ", 0
str_equals:     db " = ", 0
    align 4
ex_mode:        dd EX_NONE
ex_skip:        dd 0
ex_count:       dd 0
ex_vec:         dd 0
ex_err:         dd 0
ex_eip:         dd 0
ex_cs:          dd 0
ex_eflags:      dd 0
ex_cr2:         dd 0
frame_cs:       dd 0
frame_eflags:   dd 0
frame_esp:      dd 0
frame_ss:       dd 0
own_cs:         dd 0
own_ss:         dd 0
gate_cs:        dd 0
gate_ss:        dd 0
gate_own_cs:    dd 0
gate_own_ss:    dd 0
kernel_esp:     dd 0
r3_cs:          dd 0
r3_ss:          dd 0
r3_lar_conf:    dd 0
r3_lar_code_zf: dd 0
r3_pf_err:      dd 0
r3_pf_cs:       dd 0
r3_cli_vec:     dd 0
r3_io_vec:      dd 0
r3_scratch:     dd 0
se_cs:          dd 0
se_ss:          dd 0
scratch:        dd 0, 0
far_stack:      dd 0, 0
far_ptr:        dd far_target
                dw CODE_SEL

    align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF           ; 0x08 code, DPL 0, flat, accessed (QEMU does not set A on CS loads)
    dq 0x00CF92000000FFFF           ; 0x10 data, DPL 0, flat
    dq 0x00CFFA000000FFFF           ; 0x18 code, DPL 3, flat
    dq 0x00CFF2000000FFFF           ; 0x20 data, DPL 3, flat
gdt_tss:                            ; 0x28 32-bit TSS (base filled in by install_tables)
    dw iomap_end - tss - 1, 0
    db 0, 0x89, 0, 0
gdt_gate3:                          ; 0x30 call gate, DPL 3, no parameters (offset filled in)
    dw 0, CODE_SEL
    db 0, 0xEC
    dw 0
    dq 0x00CF9E000000FFFF           ; 0x38 conforming code, DPL 0, flat
gdt_ldt:                            ; 0x40 LDT (base filled in)
    dw ldt_end - ldt - 1, 0
    db 0, 0x82, 0, 0
gdt_gate0:                          ; 0x48 call gate, DPL 0
    dw 0, CODE_SEL
    db 0, 0x8C
    dw 0
gdt_end:
ldt:
    dq 0x00CF92000000FFFF           ; LDT 0x04: data, DPL 0, flat
ldt_end:
TABLE_REGISTERS IDT_VECTORS

    align 4
load_end:

    absolute load_end
    alignb 8
idt:        resb IDT_VECTORS * 8
    alignb 16
fpenv:      resb 32
tss:        resb 0x68
iomap:      resb 8192 + 1
iomap_end:
    alignb 4096
page_directory: resb 4096
page_table: resb 4096
sup_page:   resb 4096
    alignb 16
            resb 4096
stack_top:
            resb 4096
ring0_stack_top:
            resb 4096
sysenter_stack_top:
            resb 4096
ring3_stack_top:
bss_end:
