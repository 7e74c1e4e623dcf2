;; scores(data, n, dim, q, out): out[row] = dot(data[row*dim .. row*dim+dim), q) for row < n, in f32.
;; SIMD (f32x4) over 8 lanes per step with two accumulators, scalar tail. Compiled into dot-wasm.ts
;; with `wat2wasm --enable-simd` (wabt); the module imports its memory so each namespace owns one.
(module
  (import "env" "memory" (memory 1))
  (func (export "scores") (param $data i32) (param $n i32) (param $dim i32) (param $q i32) (param $out i32)
    (local $row i32) (local $i i32) (local $p i32) (local $end8 i32) (local $s f32)
    (local $a v128) (local $b v128)
    (local.set $end8 (i32.and (local.get $dim) (i32.const -8)))
    (local.set $p (local.get $data))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $n)))
        (local.set $a (v128.const f32x4 0 0 0 0))
        (local.set $b (v128.const f32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $vdone
          (loop $v
            (br_if $vdone (i32.ge_u (local.get $i) (local.get $end8)))
            (local.set $a
              (f32x4.add (local.get $a)
                (f32x4.mul
                  (v128.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))
                  (v128.load (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $b
              (f32x4.add (local.get $b)
                (f32x4.mul
                  (v128.load offset=16 (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))
                  (v128.load offset=16 (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 8)))
            (br $v)))
        (local.set $a (f32x4.add (local.get $a) (local.get $b)))
        (local.set $s
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
            (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $i) (local.get $dim)))
            (local.set $s
              (f32.add (local.get $s)
                (f32.mul
                  (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))
                  (f32.load (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $t)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $row) (i32.const 2))) (local.get $s))
        (local.set $p (i32.add (local.get $p) (i32.shl (local.get $dim) (i32.const 2))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows)))))
