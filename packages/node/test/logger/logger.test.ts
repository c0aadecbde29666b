import {expect} from "chai"
import {createLogger, moduleLogger} from "../../src/logger/index.js"

describe("logger", () => {
  it("writes JSON lines with the level's name, not pino's number", () => {
    const lines: string[] = []
    const logger = createLogger({level: "info", pretty: false, destination: {write: (line: string) => void lines.push(line)}})
    moduleLogger(logger, "consensus").warn({height: 3}, "round timeout")
    logger.info("started")
    logger.debug("hidden at info")
    const parsed = lines.map((line) => JSON.parse(line) as {level: unknown; msg: string; module?: string})
    expect(parsed.map((l) => [l.level, l.msg])).to.deep.equal([
      ["warn", "round timeout"],
      ["info", "started"],
    ])
    expect(parsed[0]!.module).to.equal("consensus")
  })
})
