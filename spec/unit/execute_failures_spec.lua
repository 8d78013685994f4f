-- zpm execute's lines about failed nodes (zpm.cmd.execute.run_and_print),
-- with the response headers given by hand: each failed node is one entry
-- (cli prints "Error: " before each entry), its stderr tail (the
-- devcloud's X-Nexe-Stderr) indented under its line.
local execute = require("zpm.cmd.execute")
local summary = require("zpm.summary")

-- a connection whose execute answers with these headers, writing nothing
local function conn_with(headers)
  return {
    execute = function()
      return { status = 200, reason = "OK", headers = headers,
               failed = summary.failures(headers) }
    end,
  }
end

local function run(headers)
  return execute.run_and_print(conn_with(headers), { zapp = "x.zapp" },
                               { summary = false })
end

describe("zpm execute: failed nodes", function()
  it("succeeds when every node did", function()
    assert.is_true(run({ ["x-nexe-system"] = "a", ["x-nexe-status"] = "ok",
                         ["x-nexe-retcode"] = "0",
                         ["x-nexe-stderr"] = "" }))
  end)

  it("shows a failed node's stderr tail under its line", function()
    local ok, message, code, detail = run({
      ["x-nexe-system"] = "hello,other",
      ["x-nexe-status"] = "ok,Killed by timeout",
      ["x-nexe-retcode"] = "2,-9",
      ["x-nexe-stderr"] = "Traceback%20%28most%20recent%20call%20last%29"
        .. "%3A%0A%20%20File%20%22%2Fhello.py%22%0AIOError%3A%20nope%0A," })
    assert.is_nil(ok)
    assert.are.equal("job", code)
    assert.are.equal(table.concat(detail.lines, "\n"), message)
    assert.are.same({
      "node 'hello' failed: retcode 2, status 'ok'\n"
        .. "  | Traceback (most recent call last):\n"
        .. "  |   File \"/hello.py\"\n"
        .. "  | IOError: nope",
      "node 'other' failed: retcode -9, status 'Killed by timeout'",
    }, detail.lines)
  end)

  it("prints the one line when the server sends no X-Nexe-Stderr",
     function()
    local ok, _, code, detail = run({ ["x-nexe-system"] = "a",
                                      ["x-nexe-status"] = "ok",
                                      ["x-nexe-retcode"] = "3" })
    assert.is_nil(ok)
    assert.are.equal("job", code)
    assert.are.same({ "node 'a' failed: retcode 3, status 'ok'" },
                    detail.lines)
  end)
end)
