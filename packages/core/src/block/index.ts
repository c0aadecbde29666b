export * from "./errors.js"
export * from "./merkle.js"
export * from "./commit.js"
export * from "./block.js"
