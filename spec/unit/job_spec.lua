-- DESIGN.md section 4: boot/system.map from execution.groups.
local job = require("zpm.job")
local zapp = require("zpm.zapp")

local function zapp_with_groups(groups_yaml)
  local text = "execution:\n  groups:\n" .. groups_yaml
    .. "meta:\n  name: t\n"
  return assert(zapp.parse(text))
end

local function job_json(groups_yaml)
  local _, text = require("zpm").job(zapp_with_groups(groups_yaml))
  return text
end

describe("job generation", function()
  describe("args translation", function()
    local cases = {
      -- { args as the YAML value's characters, exec.args }
      { [[mapper.py "foo\\, \nbar"]], [[mapper.py foo\x5c\x2c\x20\x5cnbar]] },
      { "hello.py", "hello.py" },
      { "", "" },
      { [[a  'b c'  d]], [[a b\x20c d]] },
      { [[say "a,b"]], [[say a\x2cb]] },
      { [[x\ y]], [[x\x20y]] },
      { [['q"uote']], [[q\x22uote]] },
      { [["two\\back"]], [[two\x5cback]] },
    }
    for _, case in ipairs(cases) do
      it(("translates %q"):format(case[1]), function()
        assert.are.equal(case[2], job.translate_args(case[1]))
      end)
    end

    it("turns a newline inside quotes into \\x0a", function()
      assert.are.equal([[a\x0ab]], job.translate_args('"a\nb"'))
    end)

    it("reports unbalanced quotes with the position", function()
      local z = zapp_with_groups(
        "  - name: g\n    path: p\n    args: 'a \"b'\n")
      local out, err = job.generate(z)
      assert.is_nil(out)
      assert.are.equal(
        "zapp.yaml:5:11: execution.groups[0].args: No closing quotation",
        err)
    end)
  end)

  describe("exec.name", function()
    local cases = {
      { "file://python2.7:python", "python" },
      { "file://image:a:b", "b" },
      { "swift://./container/python", "python" },
      { "swift://~/container/path/to/python", "path/to/python" },
      { "swift://AUTH_x/c/o", "o" },
      { "swift://a/b", "b" },
      { "bin/tool", nil },
      { "http://x/y", nil },
    }
    for _, case in ipairs(cases) do
      it(("is %s for %s"):format(tostring(case[2]), case[1]), function()
        assert.are.equal(case[2], job.exec_name(case[1]))
      end)
    end
  end)

  it("copies every other key in order and puts exec last", function()
    assert.are.equal(
      '[{"name": "g", "devices": [{"name": "python2.7"}, {"name": '
        .. '"stdout"}], "count": 2, "connect": ["g"], "replicate": 0, '
        .. '"attach": "x", "exec": {"path": "file://python2.7:python", '
        .. '"args": "hello.py", "name": "python"}}]',
      job_json("  - name: g\n    path: file://python2.7:python\n"
        .. "    devices:\n    - name: python2.7\n    - name: stdout\n"
        .. "    args: hello.py\n    count: 2\n    connect: [g]\n"
        .. "    replicate: 0\n    attach: x\n"))
  end)

  it("moves env into exec with YAML types resolved", function()
    assert.are.equal(
      '[{"name": "g", "exec": {"path": "p", "args": "", "env": {"FOO": '
        .. '"bar", "BAZ": 5, "OPT": true, "Q": "5", "F": 1.5}}}]',
      job_json("  - name: g\n    path: p\n    env: {FOO: bar, BAZ: 5, "
        .. "OPT: yes, Q: '5', F: 1.5}\n"))
  end)

  it("keeps several groups in order", function()
    local text = job_json("  - name: b\n    path: p\n  - name: a\n"
      .. "    path: q\n")
    assert.matches('^%[{"name": "b".*{"name": "a"', text)
  end)

  it("adds the image device at deploy time", function()
    local j = assert(job.generate(zapp_with_groups(
      "  - name: g\n    path: p\n    devices:\n    - name: stdout\n"
        .. "  - name: h\n    path: p\n")))
    job.add_image_device(j, "swift://AUTH_x/c/t.zapp")
    assert.are.equal(
      '[{"name": "g", "devices": [{"name": "stdout"}, {"name": "image", '
        .. '"path": "swift://AUTH_x/c/t.zapp"}], "exec": {"path": "p", '
        .. '"args": ""}}, {"name": "h", "devices": [{"name": "image", '
        .. '"path": "swift://AUTH_x/c/t.zapp"}], "exec": {"path": "p", '
        .. '"args": ""}}]', job.encode(j))
  end)
end)

describe("job.add_image_device on a decoded job", function()
  local json = require("zpm.json")

  it("puts devices before the last key and keeps a null's place",
    function()
      local j = assert(json.decode_ordered(
        '[{"name": "a", "exec": {"path": "p"}},'
          .. ' {"devices": null, "name": "b", "exec": {}}]'))
      job.add_image_device(j, "swift://A/c/z")
      assert.are.equal('[{"name": "a", "devices": [{"name": "image", '
        .. '"path": "swift://A/c/z"}], "exec": {"path": "p"}}, '
        .. '{"devices": [{"name": "image", "path": "swift://A/c/z"}], '
        .. '"name": "b", "exec": {}}]', job.encode(j))
    end)
end)
