export * from "./errors.js"
export * from "./read.js"
