; hello.asm — the smallest wasmvisor guest: an ELF32 Multiboot v1 kernel.
;
; Built with `nasm -f bin -o hello.elf hello.asm`: no linker is involved, the ELF
; header and its single PT_LOAD program header are written out by hand below.
; The whole file (headers included) is loaded at 1 MiB (0x00100000).
;
; The Multiboot header (in the first 8 KiB, 4-byte aligned) does NOT set the
; a.out kludge flag (bit 16), so a Multiboot loader must take the load address
; and entry point from the ELF headers.
;
; Machine contract used: COM1 16550 UART at 0x3F8 (poll LSR bit 5 before every
; byte), exit port 0xF4 (32-bit OUT of value V ends the run with status (V<<1)|1).
;
; Output (COM1): "Hello from wasmvisor!\r\n", then exit value 0.

BITS 32
ORG 0x00100000

MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0x00000000          ; no module alignment, no memory info, no a.out kludge
COM1        equ 0x3F8
COM1_LSR    equ COM1 + 5
LSR_THRE    equ 0x20
EXIT_PORT   equ 0xF4
STACK_SIZE  equ 4096

; ---- ELF32 header (52 bytes) --------------------------------------------------
ehdr:
    db 0x7F, "ELF"                  ; e_ident[EI_MAG0..3]
    db 1                            ; EI_CLASS   = ELFCLASS32
    db 1                            ; EI_DATA    = ELFDATA2LSB
    db 1                            ; EI_VERSION = EV_CURRENT
    db 0                            ; EI_OSABI   = System V
    times 8 db 0                    ; EI_ABIVERSION + padding
    dw 2                            ; e_type      = ET_EXEC
    dw 3                            ; e_machine   = EM_386
    dd 1                            ; e_version
    dd _start                       ; e_entry
    dd phdr - ehdr                  ; e_phoff
    dd 0                            ; e_shoff     (no section headers)
    dd 0                            ; e_flags
    dw ehdr_size                    ; e_ehsize
    dw phdr_size                    ; e_phentsize
    dw 1                            ; e_phnum
    dw 40                           ; e_shentsize (sizeof Elf32_Shdr; none present)
    dw 0                            ; e_shnum
    dw 0                            ; e_shstrndx
ehdr_size equ $ - ehdr

; ---- one PT_LOAD program header (32 bytes): the whole file at 1 MiB ------------
phdr:
    dd 1                            ; p_type   = PT_LOAD
    dd 0                            ; p_offset
    dd ehdr                         ; p_vaddr  = 0x00100000
    dd ehdr                         ; p_paddr
    dd file_end - ehdr              ; p_filesz
    dd bss_end - ehdr               ; p_memsz  (file + zeroed stack)
    dd 7                            ; p_flags  = R|W|X
    dd 0x1000                       ; p_align
phdr_size equ $ - phdr

; ---- Multiboot v1 header -----------------------------------------------------
    align 4
mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)       ; checksum: the three fields sum to 0

; ---- code --------------------------------------------------------------------
; Entered in 32-bit protected mode, flat segments, EAX=0x2BADB002, EBX=MBI, no stack.
_start:
    cli
    mov esp, stack_top
    cld
    mov esi, message
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    mov dx, EXIT_PORT
    xor eax, eax                    ; exit value 0
    out dx, eax
.halt:                              ; not reached on wasmvisor/QEMU with isa-debug-exit
    hlt
    jmp .halt

; putc: write AL to COM1 once the transmit holding register is empty.
putc:
    push eax
    mov dx, COM1_LSR
.wait:
    in al, dx
    test al, LSR_THRE
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    ret

message:
    db "Hello from wasmvisor!", 13, 10, 0

file_end:

; ---- bss (described by p_memsz, not stored in the file) ------------------------
    absolute file_end
    alignb 16
    resb STACK_SIZE
stack_top:
bss_end:
