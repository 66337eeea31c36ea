;; The SIMD kernels of edgeMask (functions/core/edge-mask.ts), assembled
;; and embedded there as KERNELS_WASM; rebuild after any edit with
;;   npx -y wabt@1.0.39 wat2wasm functions/core/edge-mask.wat --output=- | base64 -w0
;; and paste the result. Both compute exactly what the plain integer
;; definition does (test/core/edge-mask.test.ts checks it pixel for pixel);
;; JavaScript passes byte addresses in the exported memory, laid out by
;; findRidges with slack after every row for the eight-pixel steps.
(module
  (memory (export "memory") 1)
  ;; One smoothed row: the column sums of the nine source rows r0..r8 (the
  ;; row itself is r4) into the u16 scratch `cols` from element 4 on, their
  ;; ends replicated into elements 0..3 and width+4..width+7, then the row
  ;; sums, rounded to whole grey levels, into out+1 .. out+width and both
  ;; ends replicated into out and out+width+1. Eight pixels a step; a step
  ;; may read and write up to 15 bytes past the row: the caller leaves slack.
  (func (export "blurRow")
    (param $r0 i32) (param $r1 i32) (param $r2 i32) (param $r3 i32) (param $r4 i32)
    (param $r5 i32) (param $r6 i32) (param $r7 i32) (param $r8 i32)
    (param $width i32) (param $cols i32) (param $out i32)
    (param $k0 i32) (param $k1 i32) (param $k2 i32) (param $k3 i32) (param $k4 i32)
    (local $x i32) (local $c i32) (local $v i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128) (local $w4 v128)
    (local $lo v128) (local $hi v128) (local $t v128) (local $round v128)
    (local.set $w0 (i16x8.splat (local.get $k0)))
    (local.set $w1 (i16x8.splat (local.get $k1)))
    (local.set $w2 (i16x8.splat (local.get $k2)))
    (local.set $w3 (i16x8.splat (local.get $k3)))
    (local.set $w4 (i16x8.splat (local.get $k4)))
    ;; column sums (exact: at most 255 * 256 = 65280, an unsigned 16-bit lane)
    (local.set $x (i32.const 0))
    (block $done (loop $step
      (br_if $done (i32.ge_s (local.get $x) (local.get $width)))
      (v128.store
        (i32.add (local.get $cols) (i32.shl (i32.add (local.get $x) (i32.const 4)) (i32.const 1)))
        (i16x8.add
          (i16x8.add
            (i16x8.mul (local.get $w0) (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r4) (local.get $x)))))
            (i16x8.add
              (i16x8.mul (local.get $w1)
                (i16x8.add (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r3) (local.get $x))))
                           (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r5) (local.get $x))))))
              (i16x8.mul (local.get $w2)
                (i16x8.add (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r2) (local.get $x))))
                           (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r6) (local.get $x))))))))
          (i16x8.add
            (i16x8.mul (local.get $w3)
              (i16x8.add (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r1) (local.get $x))))
                         (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r7) (local.get $x))))))
            (i16x8.mul (local.get $w4)
              (i16x8.add (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r0) (local.get $x))))
                         (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $r8) (local.get $x)))))))))
      (local.set $x (i32.add (local.get $x) (i32.const 8)))
      (br $step)))
    ;; replicate the ends: four columns on each side
    (local.set $v (i32.load16_u offset=8 (local.get $cols)))
    (i64.store (local.get $cols) (i64.mul (i64.extend_i32_u (local.get $v)) (i64.const 0x0001000100010001)))
    (local.set $c (i32.add (local.get $cols) (i32.shl (i32.add (local.get $width) (i32.const 4)) (i32.const 1))))
    (local.set $v (i32.load16_u offset=0 (i32.sub (local.get $c) (i32.const 2))))
    (i64.store (local.get $c) (i64.mul (i64.extend_i32_u (local.get $v)) (i64.const 0x0001000100010001)))
    ;; row sums over nine columns, 32-bit (at most 255 * 65536), rounded and narrowed to bytes
    (local.set $round (i32x4.splat (i32.const 32768)))
    (local.set $x (i32.const 0))
    (block $done2 (loop $step2
      (br_if $done2 (i32.ge_s (local.get $x) (local.get $width)))
      (local.set $c (i32.add (local.get $cols) (i32.shl (local.get $x) (i32.const 1))))
      (local.set $t (v128.load offset=8 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $round) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w0))))
      (local.set $hi (i32x4.add (local.get $round) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w0))))
      (local.set $t (v128.load offset=6 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w1))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w1))))
      (local.set $t (v128.load offset=10 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w1))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w1))))
      (local.set $t (v128.load offset=4 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w2))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w2))))
      (local.set $t (v128.load offset=12 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w2))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w2))))
      (local.set $t (v128.load offset=2 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w3))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w3))))
      (local.set $t (v128.load offset=14 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w3))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w3))))
      (local.set $t (v128.load offset=0 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w4))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w4))))
      (local.set $t (v128.load offset=16 (local.get $c)))
      (local.set $lo (i32x4.add (local.get $lo) (i32x4.extmul_low_i16x8_u (local.get $t) (local.get $w4))))
      (local.set $hi (i32x4.add (local.get $hi) (i32x4.extmul_high_i16x8_u (local.get $t) (local.get $w4))))
      (local.set $t (i16x8.narrow_i32x4_u (i32x4.shr_u (local.get $lo) (i32.const 16)) (i32x4.shr_u (local.get $hi) (i32.const 16))))
      (v128.store64_lane 0 (i32.add (i32.add (local.get $out) (i32.const 1)) (local.get $x)) (i8x16.narrow_i16x8_u (local.get $t) (local.get $t)))
      (local.set $x (i32.add (local.get $x) (i32.const 8)))
      (br $step2)))
    (i32.store8 (local.get $out) (i32.load8_u offset=1 (local.get $out)))
    (i32.store8 offset=1 (i32.add (local.get $out) (local.get $width)) (i32.load8_u (i32.add (local.get $out) (local.get $width)))))

  ;; One row of Sobel gradients from three padded smoothed rows (up, mid,
  ;; down: the address of each row's left border byte) into `out` (the
  ;; address of the padded i32 row's left border): (gx² + gy²) << 2 | sector,
  ;; sector 0 horizontal, 1 vertical, 2 "\", 3 "/", by comparing |gx| and |gy|
  ;; against tan 22.5° in Q15 (13573); both ends replicated. Eight pixels a
  ;; step; may read 15 bytes and write 28 past the row: the caller leaves slack.
  (func (export "gradientRow")
    (param $up i32) (param $mid i32) (param $down i32) (param $out i32) (param $width i32)
    (local $x i32) (local $o i32)
    (local $nw v128) (local $n v128) (local $ne v128) (local $w v128) (local $e v128) (local $sw v128) (local $s v128) (local $se v128)
    (local $gx v128) (local $gy v128) (local $ax v128) (local $ay v128) (local $sd v128) (local $tan v128) (local $one v128)
    (local.set $tan (i16x8.splat (i32.const 13573)))
    (local.set $one (i32x4.splat (i32.const 1)))
    (local.set $x (i32.const 0))
    (block $done (loop $step
      (br_if $done (i32.ge_s (local.get $x) (local.get $width)))
      (local.set $nw (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $up) (local.get $x)))))
      (local.set $n (i16x8.extend_low_i8x16_u (v128.load64_zero offset=1 (i32.add (local.get $up) (local.get $x)))))
      (local.set $ne (i16x8.extend_low_i8x16_u (v128.load64_zero offset=2 (i32.add (local.get $up) (local.get $x)))))
      (local.set $w (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $mid) (local.get $x)))))
      (local.set $e (i16x8.extend_low_i8x16_u (v128.load64_zero offset=2 (i32.add (local.get $mid) (local.get $x)))))
      (local.set $sw (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $down) (local.get $x)))))
      (local.set $s (i16x8.extend_low_i8x16_u (v128.load64_zero offset=1 (i32.add (local.get $down) (local.get $x)))))
      (local.set $se (i16x8.extend_low_i8x16_u (v128.load64_zero offset=2 (i32.add (local.get $down) (local.get $x)))))
      ;; gx = ne + 2e + se - nw - 2w - sw; gy = sw + 2s + se - nw - 2n - ne
      (local.set $gx (i16x8.sub
        (i16x8.add (i16x8.add (local.get $ne) (local.get $se)) (i16x8.shl (local.get $e) (i32.const 1)))
        (i16x8.add (i16x8.add (local.get $nw) (local.get $sw)) (i16x8.shl (local.get $w) (i32.const 1)))))
      (local.set $gy (i16x8.sub
        (i16x8.add (i16x8.add (local.get $sw) (local.get $se)) (i16x8.shl (local.get $s) (i32.const 1)))
        (i16x8.add (i16x8.add (local.get $nw) (local.get $ne)) (i16x8.shl (local.get $n) (i32.const 1)))))
      (local.set $ax (i16x8.abs (local.get $gx)))
      (local.set $ay (i16x8.abs (local.get $gy)))
      ;; 1 where the signs of gx and gy differ (the "/" diagonal)
      (local.set $sd (i16x8.shr_u (v128.xor (local.get $gx) (local.get $gy)) (i32.const 15)))
      (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (local.get $x) (i32.const 1)) (i32.const 2))))
      (v128.store (local.get $o)
        (v128.or
          (i32x4.shl (i32x4.add (i32x4.extmul_low_i16x8_s (local.get $gx) (local.get $gx)) (i32x4.extmul_low_i16x8_s (local.get $gy) (local.get $gy))) (i32.const 2))
          ;; notHorizontal & (1 + (notVertical & (1 + sd)))
          (v128.and
            (i32x4.gt_s (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $ay)) (i32.const 15)) (i32x4.extmul_low_i16x8_u (local.get $ax) (local.get $tan)))
            (i32x4.add (local.get $one)
              (v128.and
                (i32x4.gt_s (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $ax)) (i32.const 15)) (i32x4.extmul_low_i16x8_u (local.get $ay) (local.get $tan)))
                (i32x4.add (local.get $one) (i32x4.extend_low_i16x8_u (local.get $sd))))))))
      (v128.store offset=16 (local.get $o)
        (v128.or
          (i32x4.shl (i32x4.add (i32x4.extmul_high_i16x8_s (local.get $gx) (local.get $gx)) (i32x4.extmul_high_i16x8_s (local.get $gy) (local.get $gy))) (i32.const 2))
          (v128.and
            (i32x4.gt_s (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $ay)) (i32.const 15)) (i32x4.extmul_high_i16x8_u (local.get $ax) (local.get $tan)))
            (i32x4.add (local.get $one)
              (v128.and
                (i32x4.gt_s (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $ax)) (i32.const 15)) (i32x4.extmul_high_i16x8_u (local.get $ay) (local.get $tan)))
                (i32x4.add (local.get $one) (i32x4.extend_high_i16x8_u (local.get $sd))))))))
      (local.set $x (i32.add (local.get $x) (i32.const 8)))
      (br $step)))
    (i32.store (local.get $out) (i32.load offset=4 (local.get $out)))
    (local.set $o (i32.add (local.get $out) (i32.shl (local.get $width) (i32.const 2))))
    (i32.store offset=4 (local.get $o) (i32.load (local.get $o))))
)
