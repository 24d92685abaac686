/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A freestanding x86_64 guest for fast tests of vireo's machinery on any
 * KVM (no Linux needed). Entered per the 64-bit boot protocol (RSI =
 * boot_params); the first word of the command line picks what it does:
 *   poweroff  print a line on COM1, enter ACPI S5
 *   reset     ACPI reset register
 *   kbdreset  i8042 pulse (command 0xFE)
 *   panic     pvpanic "panicked"
 *   triple    load an empty IDT and fault: a triple fault
 *   cmos      print CMOS date registers, then power off
 *   echo      echo COM1 input back until it reads 'q', then power off
 *   cmdline   print the command line, then power off
 */
	.code64
	.section .text
	.globl _start
_start:
	mov	%rsi, %rbx			/* boot_params */
	lea	stack_top(%rip), %rsp
	lea	hello(%rip), %rsi
	call	puts
	mov	0x228(%rbx), %esi		/* hdr.cmd_line_ptr */
	lea	w_poweroff(%rip), %rdi
	call	starts
	jz	do_poweroff
	lea	w_reset(%rip), %rdi
	call	starts
	jz	do_reset
	lea	w_kbdreset(%rip), %rdi
	call	starts
	jz	do_kbdreset
	lea	w_panic(%rip), %rdi
	call	starts
	jz	do_panic
	lea	w_triple(%rip), %rdi
	call	starts
	jz	do_triple
	lea	w_cmos(%rip), %rdi
	call	starts
	jz	do_cmos
	lea	w_echo(%rip), %rdi
	call	starts
	jz	do_echo
	lea	w_cmdline(%rip), %rdi
	call	starts
	jz	do_cmdline
	lea	unknown(%rip), %rsi
	call	puts
	jmp	do_poweroff

do_poweroff:
	mov	$0x600, %dx
	mov	$0x34, %al			/* SLP_EN | SLP_TYP 5 */
	out	%al, %dx
	jmp	halt
do_reset:
	mov	$0x602, %dx
	mov	$0x0e, %al
	out	%al, %dx
	jmp	halt
do_kbdreset:
	mov	$0x64, %dx
	mov	$0xfe, %al
	out	%al, %dx
	jmp	halt
do_panic:
	mov	$0x505, %dx
	mov	$1, %al
	out	%al, %dx
	jmp	halt
do_triple:
	lidt	null_idt(%rip)
	ud2
do_cmos:
	/* "cmos YY-MM-DD HH:MM:SS\n" from the BCD registers */
	lea	w_cmos(%rip), %rsi
	call	puts
	mov	$0x20, %al
	call	putc
	mov	$0x09, %cl
	call	cmos_bcd
	mov	$0x2d, %al
	call	putc
	mov	$0x08, %cl
	call	cmos_bcd
	mov	$0x2d, %al
	call	putc
	mov	$0x07, %cl
	call	cmos_bcd
	mov	$0x20, %al
	call	putc
	mov	$0x04, %cl
	call	cmos_bcd
	mov	$0x3a, %al
	call	putc
	mov	$0x02, %cl
	call	cmos_bcd
	mov	$0x3a, %al
	call	putc
	mov	$0x00, %cl
	call	cmos_bcd
	mov	$0x0a, %al
	call	putc
	jmp	do_poweroff
do_cmdline:
	call	puts				/* %rsi: the command line */
	mov	$0x0a, %al
	call	putc
	jmp	do_poweroff
do_echo:
	mov	$0x3fd, %dx			/* LSR */
	in	%dx, %al
	test	$1, %al
	jz	do_echo
	mov	$0x3f8, %dx
	in	%dx, %al
	cmp	$0x71, %al			/* 'q' */
	je	do_poweroff
	call	putc
	jmp	do_echo
halt:
	hlt
	jmp	halt

/* Print CMOS register %cl as two BCD digits. */
cmos_bcd:
	mov	%cl, %al
	out	%al, $0x70
	in	$0x71, %al
	mov	%al, %ah
	shr	$4, %al
	add	$0x30, %al
	call	putc
	mov	%ah, %al
	and	$0xf, %al
	add	$0x30, %al
	jmp	putc

/* Does the string at %rsi start with the word at %rdi? ZF set if so. */
starts:
	push	%rsi
1:	mov	(%rdi), %al
	test	%al, %al
	jz	2f
	cmp	(%rsi), %al
	jne	3f
	inc	%rdi
	inc	%rsi
	jmp	1b
2:	mov	(%rsi), %al			/* word must end here */
	test	%al, %al
	jz	3f
	cmp	$0x20, %al
3:	pop	%rsi
	ret

puts:
	lodsb
	test	%al, %al
	jz	1f
	call	putc
	jmp	puts
1:	ret

putc:
	push	%rdx
	mov	$0x3f8, %dx
	out	%al, %dx
	pop	%rdx
	ret

	.section .rodata
hello:		.asciz "tiny guest: hello\n"
unknown:	.asciz "tiny guest: unknown command\n"
w_poweroff:	.asciz "poweroff"
w_reset:	.asciz "reset"
w_kbdreset:	.asciz "kbdreset"
w_panic:	.asciz "panic"
w_triple:	.asciz "triple"
w_cmos:		.asciz "cmos"
w_echo:		.asciz "echo"
w_cmdline:	.asciz "cmdline"
	.balign 16
null_idt:	.word 0
		.quad 0

	.section .bss
	.balign 16
	.space 4096
stack_top:
