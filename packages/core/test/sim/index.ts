/** The deterministic consensus simulator: the real ConsensusMachine under a seeded, faulty virtual network. */
export * from "./prng.js"
export * from "./queue.js"
export * from "./simulation.js"
