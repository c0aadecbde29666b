/** A min-heap of timed events; ties keep insertion order so runs are deterministic. */
export class EventQueue<T> {
  private heap: {time: number; seq: number; item: T}[] = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  push(time: number, item: T): void {
    const entry = {time, seq: this.seq++, item}
    const heap = this.heap
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  pop(): {time: number; item: T} | undefined {
    const heap = this.heap
    if (heap.length === 0) return undefined
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    return {time: top.time, item: top.item}
  }
}

function before(a: {time: number; seq: number}, b: {time: number; seq: number}): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}
