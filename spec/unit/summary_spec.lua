-- zpm.summary and zpm.core.nexe. The expected tables were printed by
-- bench/summary_reference.py: the original zpm's algorithm with Debian's
-- python3-prettytable, so they are prettytable's own output.
local summary = require("zpm.summary")
local json = require("zpm.json")
local nexe = require("zpm.core").nexe

local CASES = {
  {
    name = "design",
    headers = {
      ["X-Nexe-System"] =
        "combiner,mapper-1",
      ["X-Nexe-Status"] =
        "some error,ok",
      ["X-Nexe-Retcode"] =
        "1,0",
      ["X-Nexe-Cdr-Line"] =
        "5.121, 4.993, 0.13 3.84 1025 75943662 23 735 8 399 0 0,4.511, " ..
        "0.12 4.00 1026 75943758 0 0 0 0 1 11",
    },
    total = "5.121",
    table = {
      "+----------+------------+---------+-------+------+-------+----" ..
        "-------+------------+------------+------------+--------------+" ..
        "---------------+---------------+---------------+",
      "|   Node   |   Status   | Retcode | NodeT | SysT | UserT | Dis" ..
        "kReads | DiskBytesR | DiskWrites | DiskBytesW | NetworkReads |" ..
        " NetworkBytesR | NetworkWrites | NetworkBytesW |",
      "+----------+------------+---------+-------+------+-------+----" ..
        "-------+------------+------------+------------+--------------+" ..
        "---------------+---------------+---------------+",
      "| combiner | some error |    1    | 4.993 | 0.13 |  3.84 |    " ..
        "1025   |  75943662  |     23     |    735     |      8       |" ..
        "      399      |       0       |       0       |",
      "| mapper-1 |     ok     |    0    | 4.511 | 0.12 |  4.00 |    " ..
        "1026   |  75943758  |     0      |     0      |      0       |" ..
        "       0       |       1       |       11      |",
      "+----------+------------+---------+-------+------+-------+----" ..
        "-------+------------+------------+------------+--------------+" ..
        "---------------+---------------+---------------+",
    },
  },
  {
    name = "ragged: rows stop at the shortest list",
    headers = {
      ["X-Nexe-System"] =
        "a,b,c",
      ["X-Nexe-Status"] =
        "ok,ok",
      ["X-Nexe-Retcode"] =
        "0,0,0",
      ["X-Nexe-Cdr-Line"] =
        "1.0, 0.5, 1 2 3 4 5 6 7 8 9 10, 0.25, 10 9 8 7 6 5 4 3 2 1, 0." ..
        "1, 1 1 1 1 1 1 1 1 1 1",
    },
    total = "1.0",
    table = {
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
      "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads |" ..
        " DiskBytesR | DiskWrites | DiskBytesW | NetworkReads | Network" ..
        "BytesR | NetworkWrites | NetworkBytesW |",
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
      "|  a   |   ok   |    0    |  0.5  |  1   |   2   |     3     |" ..
        "     4      |     5      |     6      |      7       |       8" ..
        "       |       9       |       10      |",
      "|  b   |   ok   |    0    |  0.25 |  10  |   9   |     8     |" ..
        "     7      |     6      |     5      |      4       |       3" ..
        "       |       2       |       1       |",
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
    },
  },
  {
    name = "ragged: cdr ends after a node time",
    headers = {
      ["X-Nexe-System"] =
        "a,b",
      ["X-Nexe-Status"] =
        "ok,ok",
      ["X-Nexe-Retcode"] =
        "0,0",
      ["X-Nexe-Cdr-Line"] =
        "1.0, 0.5, 1 2 3 4 5 6 7 8 9 10, 0.25",
    },
    total = "1.0",
    table = {
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
      "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads |" ..
        " DiskBytesR | DiskWrites | DiskBytesW | NetworkReads | Network" ..
        "BytesR | NetworkWrites | NetworkBytesW |",
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
      "|  a   |   ok   |    0    |  0.5  |  1   |   2   |     3     |" ..
        "     4      |     5      |     6      |      7       |       8" ..
        "       |       9       |       10      |",
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
    },
  },
  {
    name = "whitespace: names kept, cdr stripped",
    headers = {
      ["X-Nexe-System"] =
        " a , b",
      ["X-Nexe-Status"] =
        "ok, error ",
      ["X-Nexe-Retcode"] =
        " 0,1",
      ["X-Nexe-Cdr-Line"] =
        " 9.5 ,\t0.5 , 1  2\t3 4 5 6 7 8 9 10 ,0.25,10 9 8 7 6 5 4 3 2 " ..
        "1 ",
    },
    total = "9.5",
    table = {
      "+------+---------+---------+-------+------+-------+-----------" ..
        "+------------+------------+------------+--------------+-------" ..
        "--------+---------------+---------------+",
      "| Node |  Status | Retcode | NodeT | SysT | UserT | DiskReads " ..
        "| DiskBytesR | DiskWrites | DiskBytesW | NetworkReads | Networ" ..
        "kBytesR | NetworkWrites | NetworkBytesW |",
      "+------+---------+---------+-------+------+-------+-----------" ..
        "+------------+------------+------------+--------------+-------" ..
        "--------+---------------+---------------+",
      "|  a   |    ok   |     0   |  0.5  |  1   |   2   |     3     " ..
        "|     4      |     5      |     6      |      7       |       " ..
        "8       |       9       |       10      |",
      "|   b  |  error  |    1    |  0.25 |  10  |   9   |     8     " ..
        "|     7      |     6      |     5      |      4       |       " ..
        "3       |       2       |       1       |",
      "+------+---------+---------+-------+------+-------+-----------" ..
        "+------------+------------+------------+--------------+-------" ..
        "--------+---------------+---------------+",
    },
  },
  {
    name = "centring: odd and even spare space",
    headers = {
      ["X-Nexe-System"] =
        "abcdefghijk,ab,abc",
      ["X-Nexe-Status"] =
        "x,xy,xyz",
      ["X-Nexe-Retcode"] =
        "12,1,123",
      ["X-Nexe-Cdr-Line"] =
        "2, 1.5, 123456 1 12 1234 12345 123 1234567 1 12 123, 1.25, 1 2" ..
        "2 333 4444 55555 666666 7777777 88888888 999999999 0, 1, 0 0 0" ..
        " 0 0 0 0 0 0 0",
    },
    total = "2",
    table = {
      "+-------------+--------+---------+-------+--------+-------+---" ..
        "--------+------------+------------+------------+--------------" ..
        "+---------------+---------------+---------------+",
      "|     Node    | Status | Retcode | NodeT |  SysT  | UserT | Di" ..
        "skReads | DiskBytesR | DiskWrites | DiskBytesW | NetworkReads " ..
        "| NetworkBytesR | NetworkWrites | NetworkBytesW |",
      "+-------------+--------+---------+-------+--------+-------+---" ..
        "--------+------------+------------+------------+--------------" ..
        "+---------------+---------------+---------------+",
      "| abcdefghijk |   x    |    12   |  1.5  | 123456 |   1   |   " ..
        "  12    |    1234    |   12345    |    123     |   1234567    " ..
        "|       1       |       12      |      123      |",
      "|      ab     |   xy   |    1    |  1.25 |   1    |   22  |   " ..
        " 333    |    4444    |   55555    |   666666   |   7777777    " ..
        "|    88888888   |   999999999   |       0       |",
      "|     abc     |  xyz   |   123   |   1   |   0    |   0   |   " ..
        "  0     |     0      |     0      |     0      |      0       " ..
        "|       0       |       0       |       0       |",
      "+-------------+--------+---------+-------+--------+-------+---" ..
        "--------+------------+------------+------------+--------------" ..
        "+---------------+---------------+---------------+",
    },
  },
  {
    name = "no rows: the title box only",
    headers = {
      ["X-Nexe-System"] =
        "a",
      ["X-Nexe-Status"] =
        "ok",
      ["X-Nexe-Retcode"] =
        "0",
      ["X-Nexe-Cdr-Line"] =
        "7.25",
    },
    total = "7.25",
    table = {
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
      "| Node | Status | Retcode | NodeT | SysT | UserT | DiskReads |" ..
        " DiskBytesR | DiskWrites | DiskBytesW | NetworkReads | Network" ..
        "BytesR | NetworkWrites | NetworkBytesW |",
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
      "+------+--------+---------+-------+------+-------+-----------+" ..
        "------------+------------+------------+--------------+--------" ..
        "-------+---------------+---------------+",
    },
  },
  {
    name = "UTF-8: accents, CJK, combining marks",
    headers = {
      ["X-Nexe-System"] =
        "caf\195\169,\228\184\173\230\150\135\232\138\130\231\130\185,e" ..
        "\204\129e\204\129,\195\169\228\184\173a",
      ["X-Nexe-Status"] =
        "ok,ok,ok,ok",
      ["X-Nexe-Retcode"] =
        "0,0,0,0",
      ["X-Nexe-Cdr-Line"] =
        "1, 1, 0 0 0 0 0 0 0 0 0 0, 2, 0 0 0 0 0 0 0 0 0 0, 3, 0 0 0 0 " ..
        "0 0 0 0 0 0, 4, 0 0 0 0 0 0 0 0 0 0",
    },
    total = "1",
    table = {
      "+----------+--------+---------+-------+------+-------+--------" ..
        "---+------------+------------+------------+--------------+----" ..
        "-----------+---------------+---------------+",
      "|   Node   | Status | Retcode | NodeT | SysT | UserT | DiskRea" ..
        "ds | DiskBytesR | DiskWrites | DiskBytesW | NetworkReads | Net" ..
        "workBytesR | NetworkWrites | NetworkBytesW |",
      "+----------+--------+---------+-------+------+-------+--------" ..
        "---+------------+------------+------------+--------------+----" ..
        "-----------+---------------+---------------+",
      "|   caf\195\169   |   ok   |    0    |   1   |  0   |   0   | " ..
        "    0     |     0      |     0      |     0      |      0     " ..
        "  |       0       |       0       |       0       |",
      "| \228\184\173\230\150\135\232\138\130\231\130\185 |   ok   | " ..
        "   0    |   2   |  0   |   0   |     0     |     0      |     " ..
        "0      |     0      |      0       |       0       |       0  " ..
        "     |       0       |",
      "|    e\204\129e\204\129    |   ok   |    0    |   3   |  0   |" ..
        "   0   |     0     |     0      |     0      |     0      |   " ..
        "   0       |       0       |       0       |       0       |",
      "|   \195\169\228\184\173a   |   ok   |    0    |   4   |  0   " ..
        "|   0   |     0     |     0      |     0      |     0      |  " ..
        "    0       |       0       |       0       |       0       |",
      "+----------+--------+---------+-------+------+-------+--------" ..
        "---+------------+------------+------------+--------------+----" ..
        "-----------+---------------+---------------+",
    },
  },
}

local function lower_keys(t)
  local out = {}
  for k, v in pairs(t) do
    out[k:lower()] = v
  end
  return out
end

local function design_headers()
  return lower_keys(CASES[1].headers)
end

-- n nodes, every stats item the same
local function many_nodes(n)
  local names, statuses, retcodes, cdr = {}, {}, {}, { "12.5" }
  for i = 1, n do
    names[i] = "node-" .. i
    statuses[i] = i % 7 == 0 and "some error" or "ok"
    retcodes[i] = i % 7 == 0 and "1" or "0"
    cdr[#cdr + 1] = ("%d.%03d"):format(i % 10, i % 1000)
    cdr[#cdr + 1] = "0.12 4.00 1026 75943758 0 0 0 0 1 " .. i
  end
  return {
    ["x-nexe-system"] = table.concat(names, ","),
    ["x-nexe-status"] = table.concat(statuses, ","),
    ["x-nexe-retcode"] = table.concat(retcodes, ","),
    ["x-nexe-cdr-line"] = table.concat(cdr, ", "),
  }
end

describe("zpm.summary", function()
  it("runs on Lua 5.4", function()
    assert.are.equal("Lua 5.4", _VERSION)
  end)

  describe("render", function()
    for _, case in ipairs(CASES) do
      it("prints as prettytable does: " .. case.name, function()
        local want = "Execution summary:\n" .. table.concat(case.table, "\n")
          .. "\nTotal time: " .. case.total .. "\n"
        assert.are.equal(want, summary.render(case.headers))
        assert.are.equal(want, summary.render(lower_keys(case.headers)))
      end)
    end

    it("matches the DESIGN.md example byte for byte", function()
      local text = summary.render({
        ["X-Nexe-System"] = "combiner,mapper-1",
        ["X-Nexe-Status"] = "some error,ok",
        ["X-Nexe-Retcode"] = "1,0",
        ["X-Nexe-Cdr-Line"] = "5.121, 4.993, 0.13 3.84 1025 75943662 23 "
          .. "735 8 399 0 0,4.511, 0.12 4.00 1026 75943758 0 0 0 0 1 11",
      })
      local lines = {}
      for line in text:gmatch("([^\n]*)\n") do
        lines[#lines + 1] = line
      end
      assert.are.equal(8, #lines)
      assert.are.equal("Execution summary:", lines[1])
      assert.are.equal("| combiner | some error |    1    | 4.993 | 0.13 |"
        .. "  3.84 |    1025   |  75943662  |     23     |    735     |"
        .. "      8       |      399      |       0       |       0       |",
        lines[5])
      assert.are.equal("Total time: 5.121", lines[8])
      assert.are.equal(#lines[2], #lines[3])
    end)

    it("joins a header given as a list, as HTTP does", function()
      local h = design_headers()
      h["x-nexe-system"] = { "combiner", "mapper-1" }
      assert.are.equal(summary.render(design_headers()), summary.render(h))
    end)

    it("prefers the lower-case spelling of a header", function()
      local h = design_headers()
      h["X-NEXE-SYSTEM"] = "other,names"
      assert.are.equal(summary.render(design_headers()), summary.render(h))
    end)
  end)

  describe("parse", function()
    it("returns the rows as received and the total", function()
      local s = summary.parse(CASES[1].headers)
      assert.are.equal("5.121", s.total)
      assert.are.equal(2, #s.rows)
      assert.are.same({
        node = "combiner", status = "some error", retcode = "1",
        node_time = "4.993", sys_time = "0.13", user_time = "3.84",
        disk_reads = "1025", disk_bytes_read = "75943662",
        disk_writes = "23", disk_bytes_written = "735",
        network_reads = "8", network_bytes_read = "399",
        network_writes = "0", network_bytes_written = "0",
      }, s.rows[1])
      assert.are.equal("11", s.rows[2].network_bytes_written)
    end)

    it("keeps spaces in names, strips cdr items", function()
      local s = summary.parse({
        ["x-nexe-system"] = " a ,b",
        ["x-nexe-status"] = "ok, error",
        ["x-nexe-retcode"] = "0,1",
        ["x-nexe-cdr-line"] = " 7.5 , 1.5 ,\t1 2 3 4 5 6 7 8 9 10 ,"
          .. "2.5,10  9 8 7 6 5 4 3 2\t1",
      })
      assert.are.equal("7.5", s.total)
      assert.are.equal(" a ", s.rows[1].node)
      assert.are.equal(" error", s.rows[2].status)
      assert.are.equal("1.5", s.rows[1].node_time)
      assert.are.equal("1", s.rows[1].sys_time)
      assert.are.equal("10", s.rows[2].sys_time)
      assert.are.equal("1", s.rows[2].network_bytes_written)
    end)

    local ragged = {
      { "fewer statuses", { "a,b,c", "ok", "0,0,0" }, 1 },
      { "fewer retcodes", { "a,b,c", "ok,ok,ok", "0,0" }, 2 },
      { "fewer names", { "a", "ok,ok", "0,0" }, 1 },
      { "cdr ends with a node time", { "a,b,c", "ok,ok,ok", "0,0,0" }, 2,
        "1, 1, 0 0 0 0 0 0 0 0 0 0, 2, 0 0 0 0 0 0 0 0 0 0, 3" },
      { "cdr holds only the total", { "a,b", "ok,ok", "0,0" }, 0, "9" },
      { "all values empty", { "", "", "" }, 0, "" },
    }
    for _, case in ipairs(ragged) do
      it("stops at the shortest list: " .. case[1], function()
        local s = assert(summary.parse({
          ["x-nexe-system"] = case[2][1],
          ["x-nexe-status"] = case[2][2],
          ["x-nexe-retcode"] = case[2][3],
          ["x-nexe-cdr-line"] = case[4] or ("1, 1, 0 0 0 0 0 0 0 0 0 0, "
            .. "2, 0 0 0 0 0 0 0 0 0 0, 3, 0 0 0 0 0 0 0 0 0 0"),
        }))
        assert.are.equal(case[3], #s.rows)
      end)
    end
  end)

  describe("bad input", function()
    local names = { "X-Nexe-System", "X-Nexe-Status", "X-Nexe-Retcode",
                    "X-Nexe-Cdr-Line" }
    for _, name in ipairs(names) do
      it("says the server sent no " .. name, function()
        local h = design_headers()
        h[name:lower()] = nil
        for _, f in ipairs({ summary.parse, summary.render, summary.json }) do
          local out, msg, code = f(h)
          assert.is_nil(out)
          assert.matches(name, msg, 1, true)
          assert.matches("is it ZeroCloud?", msg, 1, true)
          assert.are.equal("invalid", code)
        end
      end)
    end

    it("says so for a response with no X-Nexe-* headers at all", function()
      local out, msg = summary.render({ ["content-type"] = "text/html" })
      assert.is_nil(out)
      assert.matches("did not report execution statistics", msg)
    end)

    local counts = {
      { "0 0 0 0 0 0 0 0 0", 9 },
      { "0 0 0 0 0 0 0 0 0 0 0", 11 },
      { "", 0 },
    }
    for _, case in ipairs(counts) do
      it(("names the node with %d statistics"):format(case[2]), function()
        local h = design_headers()
        h["x-nexe-cdr-line"] = "5, 1, 0 0 0 0 0 0 0 0 0 0, 2, " .. case[1]
        local out, msg, code = summary.render(h)
        assert.is_nil(out)
        assert.are.equal("invalid", code)
        assert.matches(("node 'mapper-1' (row 2) has %d statistics, "
          .. "expected 10"):format(case[2]), msg, 1, true)
      end)
    end
  end)

  describe("json", function()
    it("writes total and nodes with a stable key order", function()
      local text = summary.json(CASES[1].headers)
      assert.are.equal('{"total_time": 5.121, "nodes": [{"node": '
        .. '"combiner", "status": "some error", "retcode": 1, '
        .. '"node_time": 4.993, "sys_time": 0.13, "user_time": 3.84, '
        .. '"disk_reads": 1025, "disk_bytes_read": 75943662, '
        .. '"disk_writes": 23, "disk_bytes_written": 735, '
        .. '"network_reads": 8, "network_bytes_read": 399, '
        .. '"network_writes": 0, "network_bytes_written": 0}, '
        .. '{"node": "mapper-1", "status": "ok", "retcode": 0, '
        .. '"node_time": 4.511, "sys_time": 0.12, "user_time": 4.0, '
        .. '"disk_reads": 1026, "disk_bytes_read": 75943758, '
        .. '"disk_writes": 0, "disk_bytes_written": 0, '
        .. '"network_reads": 0, "network_bytes_read": 0, '
        .. '"network_writes": 1, "network_bytes_written": 11}]}', text)
      local back = json.decode(text)
      assert.are.equal("mapper-1", back.nodes[2].node)
    end)

    it("writes an empty node list as []", function()
      assert.are.equal('{"total_time": 3, "nodes": []}', summary.json({
        ["x-nexe-system"] = "a", ["x-nexe-status"] = "ok",
        ["x-nexe-retcode"] = "0", ["x-nexe-cdr-line"] = "3" }))
    end)
  end)

  describe("failures", function()
    local function h(system, status, retcode)
      return { ["X-Nexe-System"] = system, ["X-Nexe-Status"] = status,
               ["X-Nexe-Retcode"] = retcode }
    end
    local cases = {
      { "all ok", h("a,b", "ok,ok", "0,0"), {} },
      { "spaces around items", h("a, b", "ok , ok", " 0,0 "), {} },
      { "a non-zero retcode", h("a,b", "ok,ok", "0,3"),
        { { node = "b", status = "ok", retcode = 3 } } },
      { "a status other than ok", h("a", "Killed by time limit", "137"),
        { { node = "a", status = "Killed by time limit", retcode = 137 } } },
      { "a bad status with retcode 0", h("a", "some error", "0"),
        { { node = "a", status = "some error", retcode = 0 } } },
      { "a node without status or retcode", h("a,b", "ok", "0"),
        { { node = "b" } } },
      { "a retcode that is not a number", h("a", "ok", "x"),
        { { node = "a", status = "ok", retcode = "x" } } },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        assert.are.same(case[3], summary.failures(case[2]))
      end)
    end

    it("describes a failure in one line", function()
      assert.are.equal("node 'b' failed: retcode 3, status 'ok'",
        summary.describe_failure({ node = "b", status = "ok", retcode = 3 }))
      assert.are.equal("node 'b' failed: retcode (none), status '(none)'",
        summary.describe_failure({ node = "b" }))
    end)
  end)

  describe("X-Nexe-Stderr (the devcloud's stderr tails)", function()
    -- a traceback as the middleware sends it: urllib.parse.quote(s, safe='')
    local TB = "Traceback (most recent call last):\n"
      .. "  File \"/hello.py\", line 1\n"
      .. "SyntaxError: invalid syntax, 100% sure\n"
    local TB_Q = "Traceback%20%28most%20recent%20call%20last%29%3A%0A"
      .. "%20%20File%20%22%2Fhello.py%22%2C%20line%201%0A"
      .. "SyntaxError%3A%20invalid%20syntax%2C%20100%25%20sure%0A"

    local function h(system, status, retcode, stderr)
      return { ["X-Nexe-System"] = system, ["X-Nexe-Status"] = status,
               ["X-Nexe-Retcode"] = retcode, ["X-Nexe-Stderr"] = stderr }
    end

    it("gives a failed node its decoded stderr", function()
      assert.are.same({ { node = "b", status = "ok", retcode = 2,
                          stderr = TB } },
        summary.failures(h("a,b", "ok,ok", "0,2", "," .. TB_Q)))
    end)

    it("reads the header in any case, and repeated fields joined", function()
      assert.are.same({ { node = "a", status = "ok", retcode = 1,
                          stderr = "x" }, { node = "b", status = "ok",
                          retcode = 1, stderr = "y" } },
        summary.failures({ ["x-nexe-system"] = "a,b",
          ["x-nexe-status"] = "ok,ok", ["x-nexe-retcode"] = "1,1",
          ["x-NEXE-stderr"] = { "x", "y" } }))
    end)

    it("leaves stderr nil when the item is empty or missing", function()
      -- empty item, no item (short header), no header at all
      assert.are.same({ { node = "a", status = "ok", retcode = 1 },
                        { node = "b", status = "ok", retcode = 1 } },
        summary.failures(h("a,b", "ok,ok", "1,1", "")))
      assert.are.same({ { node = "a", status = "Killed by timeout",
                          retcode = -9 } },
        summary.failures(h("a", "Killed by timeout", "-9", nil)))
    end)

    it("keeps a '%' that is not an escape, and decodes bytes", function()
      assert.are.same({ { node = "a", status = "ok", retcode = 1,
                          stderr = "50% \xff\x00!" } },
        summary.failures(h("a", "ok", "1", "50% %FF%00%21")))
    end)

    it("stderrs: node index -> text, only where the item is not empty",
       function()
      assert.are.same({ [2] = "b\n" },
        summary.stderrs(h("a,b,c", "ok,ok,ok", "0,1,0", ",b%0A,")))
      assert.are.same({}, summary.stderrs(h("a", "ok", "0", nil)))
    end)

    it("describe_stderr: the tail's lines indented under the failure",
       function()
      assert.are.same({
        "  | Traceback (most recent call last):",
        "  |   File \"/hello.py\", line 1",
        "  | SyntaxError: invalid syntax, 100% sure" },
        summary.describe_stderr({ node = "a", stderr = TB }))
      assert.are.same({}, summary.describe_stderr({ node = "a" }))
      assert.are.same({}, summary.describe_stderr({ node = "a",
                                                     stderr = "" }))
      -- no final newline, \r\n, blank lines kept, control bytes shown
      assert.are.same({ "  | one", "  | ", "  | \\x1b[31mred\tx" },
        summary.describe_stderr({ stderr = "one\r\n\n\27[31mred\tx" }))
    end)

    it("json: a failed node's stderr after its other keys", function()
      local headers = {
        ["X-Nexe-System"] = "a,b", ["X-Nexe-Status"] = "ok,ok",
        ["X-Nexe-Retcode"] = "0,2",
        ["X-Nexe-Cdr-Line"] = "1.0, 0.5, 1 2 3 4 5 6 7 8 9 10, "
          .. "0.25, 10 9 8 7 6 5 4 3 2 1",
        ["X-Nexe-Stderr"] = ",oops%0A" }
      local text = summary.json(headers)
      assert.matches('"network_bytes_written": 10}, {"node": "b"', text,
                     1, true)
      assert.matches('"network_bytes_written": 1, "stderr": "oops\\n"}]}',
                     text, 1, true)
      local back = json.decode(text)
      assert.is_nil(back.nodes[1].stderr)
      assert.are.equal("oops\n", back.nodes[2].stderr)
    end)
  end)

  describe("write", function()
    it("streams the same text as render", function()
      local chunks = {}
      assert.is_true(summary.write(CASES[1].headers, function(s)
        chunks[#chunks + 1] = s
        return true
      end))
      assert.are.equal(summary.render(CASES[1].headers),
                       table.concat(chunks))
    end)

    it("writes nothing for bad headers", function()
      local h = design_headers()
      h["x-nexe-cdr-line"] = "5, 1, 0 0"
      local called = false
      local ok, msg, code = summary.write(h, function()
        called = true
        return true
      end)
      assert.is_nil(ok)
      assert.matches("node 'combiner'", msg, 1, true)
      assert.are.equal("invalid", code)
      assert.is_false(called)
    end)

    it("stops when write fails", function()
      local calls = 0
      local ok, msg, code = summary.write(CASES[1].headers, function()
        calls = calls + 1
        return nil, "disk full"
      end)
      assert.is_nil(ok)
      assert.are.equal("disk full", msg)
      assert.are.equal("io", code)
      assert.are.equal(1, calls)
    end)

    it("lets an error raised by write propagate", function()
      assert.has.error(function()
        summary.write(CASES[1].headers, function() error("boom", 0) end)
      end, "boom")
    end)
  end)

  describe("argument errors", function()
    it("raises for headers that are not a table", function()
      for _, f in ipairs({ summary.parse, summary.render, summary.json }) do
        assert.has.error(function() f(nil) end)
        assert.has.error(function() f("x-nexe-system: a") end)
      end
      assert.has.error(function() summary.write(nil, print) end)
    end)

    it("raises for a header value that is not a string", function()
      local h = design_headers()
      h["x-nexe-status"] = true
      assert.has.error(function() summary.render(h) end)
    end)

    it("raises for a write that is not a function", function()
      assert.has.error(function() summary.write(design_headers(), "x") end)
    end)
  end)

  it("renders 100,000 nodes", function()
    local h = many_nodes(100000)
    local start = os.clock()
    local text = assert(summary.render(h))
    local elapsed = os.clock() - start
    local lines = select(2, text:gsub("\n", ""))
    assert.are.equal(100000 + 6, lines)
    assert.matches("| node-100000 |", text, 1, true)
    assert.matches("\nTotal time: 12.5\n$", text)
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
    local s = assert(summary.parse(h))
    assert.are.equal(100000, #s.rows)
    assert.are.equal("100000", s.rows[100000].network_bytes_written)
  end)
end)

describe("zpm.core.nexe", function()
  it("parse returns rows and total", function()
    local rows, total = nexe.parse(design_headers())
    assert.are.equal("5.121", total)
    assert.are.equal("mapper-1", rows[2].node)
  end)

  it("parse fails with nil, msg, 'invalid'", function()
    local rows, msg, code = nexe.parse({})
    assert.is_nil(rows)
    assert.matches("X-Nexe-System", msg, 1, true)
    assert.are.equal("invalid", code)
  end)

  it("table returns the text and total, or streams it", function()
    local text, total = nexe.table(design_headers())
    assert.are.equal(table.concat(CASES[1].table, "\n"), text)
    assert.are.equal("5.121", total)
    local chunks = {}
    local ok, total2 = nexe.table(design_headers(), function(s)
      chunks[#chunks + 1] = s
      return true
    end)
    assert.is_true(ok)
    assert.are.equal("5.121", total2)
    assert.are.equal(text, table.concat(chunks))
  end)

  it("table streams in chunks of at most 16 KiB", function()
    local sizes = {}
    assert(nexe.table(many_nodes(1000), function(s)
      sizes[#sizes + 1] = #s
      return true
    end))
    assert.is_true(#sizes > 1)
    for _, n in ipairs(sizes) do
      assert.is_true(n <= 16384)
    end
  end)

  it("table fails with nil, msg, 'invalid'", function()
    local h = design_headers()
    h["x-nexe-retcode"] = nil
    local text, msg, code = nexe.table(h)
    assert.is_nil(text)
    assert.matches("X-Nexe-Retcode", msg, 1, true)
    assert.are.equal("invalid", code)
  end)

  it("raises for bad arguments", function()
    assert.has.error(function() nexe.parse(nil) end)
    assert.has.error(function() nexe.table(42) end)
    assert.has.error(function() nexe.table(design_headers(), 42) end)
    assert.has.error(function()
      nexe.parse({ ["x-nexe-system"] = {} })
    end)
  end)
end)
