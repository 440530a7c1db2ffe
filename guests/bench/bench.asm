; bench.asm — a compute-bound Multiboot v1 kernel for performance runs.
;
; Built with `nasm -f bin -I guests/common/ -o bench.bin bench.asm`: a flat image loaded at 1 MiB
; whose Multiboot header uses the a.out kludge (flag bit 16), so every Multiboot
; loader (wasmvisor, QEMU -kernel, v86) can place it without ELF support.
;
; Workload, fully deterministic (integer only, no REP string instructions, so
; every architectural instruction is counted once):
;   1. fill a 4 KiB buffer with xorshift32 bytes;
;   2. one reference prime sieve;
;   3. ITERATIONS rounds of { bitwise CRC-32 over the buffer (the CRC continues
;      from round to round, so the result is the CRC-32 of the buffer repeated
;      ITERATIONS times); a sieve of Eratosthenes over SIEVE_N numbers, whose
;      prime count must equal the reference }.
; Output (COM1):
;   bench: crc=XXXXXXXX primes=NNNN
;   bench: done
; then exit value 0 through port 0xF4 (1 if a round's sieve disagreed).
;
; Instruction count, from the entry point to the final OUT inclusive (checked
; instruction by instruction with QEMU -singlestep -d exec for ITERATIONS = 1, 2):
;   setup + report    183512 + L   (L = number of hex letters A-F in the printed CRC)
;   per round         276856       (CRC 147459 + sieve 129389 + loop 8)
;   ITERATIONS = 1100: 183512 + 3 + 276856 * 1100 = 304,725,115 instructions
; assuming each COM1 LSR poll finds THRE set at once (every extra poll adds 3).

%ifndef ITERATIONS
%define ITERATIONS 1100             ; the single knob: rounds of CRC + sieve
%endif                              ; (nasm -DITERATIONS=n overrides it for tests)
%if ITERATIONS < 1
%error "ITERATIONS must be at least 1"
%endif

BITS 32
ORG 0x00100000

BUF_SIZE    equ 4096                ; bytes fed to the CRC per round
SIEVE_N     equ 8192                ; the sieve finds the primes below this
CRC_POLY    equ 0xEDB88320          ; reflected CRC-32 (IEEE 802.3, zlib)
XS_SEED     equ 0x2545F491          ; xorshift32 seed for the buffer contents

COM1        equ 0x3F8
COM1_LSR    equ COM1 + 5
LSR_THRE    equ 0x20
EXIT_PORT   equ 0xF4

%include "multiboot-aout.inc"

; ---- entry: 32-bit protected mode, flat segments, no stack -----------------------
_start:
    cli
    mov esp, stack_top
    cld
    call fill_buffer
    call sieve                      ; reference prime count
    mov [primes], eax
    mov dword [crc], 0xFFFFFFFF
    mov ebp, ITERATIONS
.round:
    mov eax, [crc]
    call crc_round
    mov [crc], eax
    call sieve
    cmp eax, [primes]
    je .same
    inc dword [mismatches]
.same:
    dec ebp
    jnz .round

    ; report
    mov esi, msg_crc
    call puts
    mov eax, [crc]
    not eax                         ; final XOR of CRC-32
    call puthex32
    mov esi, msg_primes
    call puts
    mov eax, [primes]
    call putdec
    mov esi, msg_crlf
    call puts
    xor ebx, ebx                    ; exit value
    cmp dword [mismatches], 0
    je .report_done
    mov esi, msg_mismatch
    call puts
    mov ebx, 1
.report_done:
    mov esi, msg_done
    call puts
    mov eax, ebx
    mov dx, EXIT_PORT
    out dx, eax
.halt:
    hlt
    jmp .halt

; fill_buffer: buffer[i] = low byte of successive xorshift32 states.
fill_buffer:
    mov eax, XS_SEED
    mov edi, buffer
    mov ecx, BUF_SIZE
.next:
    mov edx, eax                    ; x ^= x << 13
    shl edx, 13
    xor eax, edx
    mov edx, eax                    ; x ^= x >> 17
    shr edx, 17
    xor eax, edx
    mov edx, eax                    ; x ^= x << 5
    shl edx, 5
    xor eax, edx
    mov [edi], al
    inc edi
    dec ecx
    jnz .next
    ret

; crc_round: EAX = running CRC (pre-inverted); folds in BUF_SIZE buffer bytes,
; one bit at a time, branch-free: crc = (crc >> 1) ^ (POLY & -(crc & 1)).
; 35 instructions per byte.
crc_round:
    mov esi, buffer
    mov ecx, BUF_SIZE
.byte:
    xor al, [esi]
%rep 8
    shr eax, 1                      ; CF = bit shifted out
    sbb edx, edx                    ; EDX = CF ? -1 : 0
    and edx, CRC_POLY
    xor eax, edx
%endrep
    inc esi
    dec ecx
    jnz .byte
    ret

; sieve: returns in EAX the number of primes below SIEVE_N.
sieve:
    mov edi, sieve_buf
    mov ecx, SIEVE_N
.clear:                             ; every number starts as a candidate
    mov byte [edi], 1
    inc edi
    dec ecx
    jnz .clear
    mov byte [sieve_buf], 0         ; 0 and 1 are not prime
    mov byte [sieve_buf + 1], 0
    mov ebx, 2                      ; p
.outer:
    mov eax, ebx
    imul eax, ebx                   ; p*p
    cmp eax, SIEVE_N
    jae .count
    cmp byte [sieve_buf + ebx], 0
    je .next_p
.mark:                              ; strike p*p, p*p+p, ...
    mov byte [sieve_buf + eax], 0
    add eax, ebx
    cmp eax, SIEVE_N
    jb .mark
.next_p:
    inc ebx
    jmp .outer
.count:
    xor eax, eax
    mov esi, sieve_buf
    mov ecx, SIEVE_N
.sum:
    movzx edx, byte [esi]
    add eax, edx
    inc esi
    dec ecx
    jnz .sum
    ret

; ---- COM1 output ----------------------------------------------------------------
; putc: AL -> COM1, after polling LSR.THRE. Preserves all registers.
putc:
    push edx
    push eax
    mov dx, COM1_LSR
.wait:
    in al, dx
    test al, LSR_THRE
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

; puts: NUL-terminated string at ESI.
puts:
    push eax
    push esi
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    pop esi
    pop eax
    ret

; puthex32: EAX as 8 upper-case hex digits.
puthex32:
    push eax
    push ecx
    push edx
    mov edx, eax
    mov ecx, 8
.digit:
    rol edx, 4
    mov al, dl
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'A' - '0' - 10
.out:
    call putc
    dec ecx
    jnz .digit
    pop edx
    pop ecx
    pop eax
    ret

; putdec: EAX as unsigned decimal.
putdec:
    push eax
    push ebx
    push ecx
    push edx
    mov ebx, 10
    xor ecx, ecx
.divide:
    xor edx, edx
    div ebx
    push edx
    inc ecx
    test eax, eax
    jnz .divide
.emit:
    pop eax
    add al, '0'
    call putc
    dec ecx
    jnz .emit
    pop edx
    pop ecx
    pop ebx
    pop eax
    ret

msg_crc:      db "bench: crc=", 0
msg_primes:   db " primes=", 0
msg_crlf:     db 13, 10, 0
msg_mismatch: db "bench: sieve mismatch", 13, 10, 0
msg_done:     db "bench: done", 13, 10, 0

    align 4
load_end:

; ---- bss: zeroed by the loader up to bss_end ------------------------------------------
    absolute load_end
    alignb 4096                     ; data on its own pages: a store never lands on a code page,
                                    ; so code-page tracking (ours, v86's JIT) is not what is measured
crc:        resd 1
primes:     resd 1
mismatches: resd 1
    alignb 16
buffer:     resb BUF_SIZE
sieve_buf:  resb SIEVE_N
    alignb 16
            resb 4096
stack_top:
bss_end:
