/** Block production and block validation, one home for both: the node, the simulator and test harnesses call these. */
export * from "./proposer.js"
export * from "./parent.js"
export * from "./validation.js"
export * from "./production.js"
