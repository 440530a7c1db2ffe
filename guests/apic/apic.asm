; apic.asm — wasmvisor's self-checking test kernel for the local APIC at 0xFEE00000 (Intel
; SDM Vol. 3A ch. 10): ID and version, TPR/PPR, the spurious-vector register, the timer
; (one-shot, periodic, masked, the divide configuration), ISR/IRR, EOI, priorities and
; self-IPIs through the ICR.
;
; Built with `nasm -f bin -I guests/apic/ -I guests/common/ -o apic.bin apic.asm`: a flat
; Multiboot v1 kernel (a.out kludge) loaded at 1 MiB, entered in 32-bit protected mode; it
; loads its own GDT (null, 0x08 flat code, 0x10 flat data) and IDT (0-31: any exception is
; reported as unexpected; 0x40 timer, 0x45, 0x50, 0x60 and the spurious 0xFF: one handler
; that logs the vector with its ISR/IRR words and the PPR and writes EOI). The 8259 PICs are
; masked, so only the APIC interrupts; interrupts are enabled only around HLT or a few
; instructions where a case waits for one.
;
; Each case prints "PASS apic.<name>" or "FAIL apic.<name> got X want Y (check N)" on
; COM1; then "apic: N passed, M failed", and the run exits through port 0xF4 with the
; failure count. The cases are in cases.inc.
;
; The expected values are those of an xAPIC (version 0x14), checked under QEMU 7.2 (TCG);
; the timing checks compare counts, not absolute times. guests/apic/expected.txt holds the output.

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
    call install_idt
    mov al, 0xFF                    ; mask every legacy PIC line
    out PIC1_DATA, al
    out PIC2_DATA, al
    APIC_W A_TPR, 0
    APIC_W A_INITIAL, 0             ; no timer running
    APIC_W A_LVT_TIMER, LVT_MASKED | VEC_TIMER
    APIC_W A_SVR, SVR_ENABLE | VEC_SPUR

%include "cases.inc"

    jmp finish

%include "lib.inc"

; ---- data -------------------------------------------------------------------------------
    SELFCHECK_DATA "apic.", "apic: "
ex_mode:        dd 0
irq_count:      dd 0
irq_hook:       dd 0
irq_no_eoi:     dd 0
irq_vec:        times IRQ_LOG dd 0  ; the interrupt log: four arrays, in this order
irq_isr:        times IRQ_LOG dd 0
irq_irr:        times IRQ_LOG dd 0
irq_ppr:        times IRQ_LOG dd 0
r0:             dd 0
r1:             dd 0
r2:             dd 0
r3:             dd 0

FLAT_GDT
TABLE_REGISTERS IDT_VECTORS

    align 4
load_end:

    absolute load_end
    alignb 8
idt:        resb IDT_VECTORS * 8
    alignb 16
            resb 4096
stack_top:
bss_end:
