export * from "./node.js"
export * from "./driver.js"
export * from "./intake.js"
export * from "./handlers.js"
export * from "./startable.js"
export * from "./errors.js"
export * from "./options.js"
export * from "./version.js"

