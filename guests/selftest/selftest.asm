; selftest.asm — wasmvisor's self-checking CPU test kernel.
;
; A flat binary entered in real mode at 0000:7C00 (DL=0x80), loaded whole, with no
; BIOS services: all I/O goes through ports (COM1 at 0x3F8, exit port 0xF4).
;
; It runs every family of cases first in real mode (16-bit operand and address
; size, the 32-bit forms through 0x66/0x67 prefixes), then switches to 32-bit
; protected mode (own GDT with flat code/data descriptors, LGDT, CR0.PE, far jump)
; and runs the same families again (the 16-bit forms now through 0x66/0x67).
; Each case prints "PASS <mode>.<name>" or "FAIL <mode>.<name> got X want Y (check N)";
; then "selftest: N passed, M failed", and the run exits through port 0xF4 with the
; failure count. An unexpected CPU exception is reported as a FAIL and ends the run.
;
; Expected values are those of a real i686 (Intel SDM semantics); undefined flags
; are masked out of every flags check. guests/selftest/expected.txt holds the
; output, as checked under QEMU (see qemuboot.inc and guests/README.md).
;
; Files: macros.inc (CASE/CHK macros), lib.inc (per-mode runtime), one .inc per
; family (alu, shift, muldiv, bcd, string, stack, control, interrupt, cond, bitops,
; convert), qemuboot.inc (QEMU-only boot sector).

%include "report.inc"
%include "macros.inc"

%ifdef QEMU_FLOPPY
%include "qemuboot.inc"
        section kernel follows=loader vstart=0x7C00
%else
        org 0x7C00
%endif

; ============================== real mode ==========================================
BITS 16
%define M 16
kernel_start:
entry:
    cli
    cld
    mov [cs:boot_dl], dl
    mov [cs:boot_cs], cs
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP
    jmp rm_main

; ---- state shared by both modes (all dwords unless noted) ---------------------------
    align 4
case_name:      dd 0
case_got:       dd 0
case_want:      dd 0
pass_count:     dd 0
fail_count:     dd 0
mode_prefix:    dd 0
expect_vec:     dd -1           ; armed exception vector, -1 = none
resume_ip:      dd 0            ; where the exception handler resumes
exc_count:      dd 0
exc_ip:         dd 0
exc_cs:         dd 0
exc_flags:      dd 0
exc_err:        dd 0
int_count:      dd 0            ; INT_VEC handler bookkeeping
int_ip:         dd 0
int_cs:         dd 0
int_flags:      dd 0
tmp:            dd 0, 0, 0, 0   ; scratch for the cases
boot_cs:        dw 0
boot_dl:        db 0
case_failed:    db 0
case_checks:    db 0
case_failcheck: db 0

REPORT_STRINGS "selftest: "
str_rm:         db "rm.", 0
str_pm:         db "pm.", 0

%include "lib.inc"

rm_main:
    call install_vectors16
    mov dword [mode_prefix], str_rm

    CASE "boot.entry"
    CHK8  byte [boot_dl], 0x80      ; DL = 0x80 at entry
    CHK16 word [boot_cs], 0         ; CS:IP = 0000:7C00
    ENDCASE

%include "families.inc"

; ---- switch to 32-bit protected mode ------------------------------------------------
    cli
    lgdt [gdt_desc]
    mov eax, cr0
    or al, 1                        ; CR0.PE
    mov cr0, eax
    jmp dword 0x08:pm_entry         ; reload CS with the flat 32-bit code descriptor
rm_end:
; everything executed in real mode must sit below 64 KiB (CS=0)
    times -((rm_end - kernel_start) > (0x10000 - 0x7C00)) db 0

    align 8
gdt:
    dq 0                            ; 0x00 null
    dq 0x00CF9A000000FFFF           ; 0x08 code: base 0, limit 4 GiB, 32-bit, DPL 0
    dq 0x00CF92000000FFFF           ; 0x10 data: base 0, limit 4 GiB, writable
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt_desc:
    dw 256 * 8 - 1
    dd IDT_BASE

; ============================== protected mode =====================================
BITS 32
%undef M
%define M 32
pm_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP
    call install_vectors32
    mov dword [mode_prefix], str_pm

    CASE "boot.pmode"
    mov eax, cr0
    and eax, 1
    CHK32 eax, 1                    ; CR0.PE set
    mov ax, cs
    CHK16 ax, 0x08
    mov ax, ss
    CHK16 ax, 0x10
    ENDCASE

%include "families.inc"

    jmp finish32

%include "lib.inc"
kernel_end:
