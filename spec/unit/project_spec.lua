local project = require("zpm.project")
local util = require("support.util")
local lfs = require("lfs")

describe("zpm.project", function()
  after_each(util.cleanup)

  describe("create", function()
    it("makes zapp.yaml named after the directory and .zapp/", function()
      local dir = util.tmpdir() .. "/my-app"
      local created = assert(project.create(dir))
      assert.are.same({ dir .. "/zapp.yaml", dir .. "/main.py",
                        dir .. "/.zapp" }, created)
      local z = assert(require("zpm.zapp").load(dir .. "/zapp.yaml"))
      assert.are.equal("my-app", z.meta.name)
      assert.are.equal("directory", lfs.attributes(dir .. "/.zapp", "mode"))
    end)

    it("adds the UI files and a ui section with with_ui", function()
      local dir = util.tmpdir()
      local created = assert(project.create(dir, { with_ui = true }))
      assert.are.same({ dir .. "/zapp.yaml", dir .. "/main.py",
                        dir .. "/index.html.tmpl", dir .. "/zerocloud.js",
                        dir .. "/style.css", dir .. "/.zapp" }, created)
      local z = assert(require("zpm.zapp").load(dir .. "/zapp.yaml"))
      assert.are.same({ "index.html.tmpl", "zerocloud.js", "style.css" },
                      { table.unpack(z.ui) })
    end)

    it("keeps an existing main.py and makes the rest", function()
      local dir = util.tmpdir()
      util.write(dir .. "/main.py", "print('mine')\n")
      local created = assert(project.create(dir))
      assert.are.same({ dir .. "/zapp.yaml", dir .. "/.zapp" }, created)
      assert.are.equal("print('mine')\n", util.read(dir .. "/main.py"))
    end)

    for _, template in ipairs({ "python", "shell" }) do
      it("writes a " .. template .. " starter the zapp.yaml runs", function()
        local dir = util.tmpdir() .. "/starter"
        assert(project.create(dir, { template = template }))
        local z = assert(require("zpm.zapp").load(dir .. "/zapp.yaml"))
        local script = z.execution.groups[1].args:match("^(%S+)")
        local text = assert(util.read(dir .. "/" .. script))
        assert.matches("Hello", text)
      end)
    end

    it("quotes a name YAML would misread", function()
      local dir = util.tmpdir() .. '/we"ird: yes'
      assert(project.create(dir))
      local z = assert(require("zpm.zapp").load(dir .. "/zapp.yaml"))
      assert.are.equal('we"ird: yes', z.meta.name)
    end)

    -- the skeletons' files have @name@ and @ui@ placeholders
    it("fills in a name with % and @...@ as written", function()
      local dir = util.tmpdir() .. "/a%1 @ui@ %s"
      assert(project.create(dir, { with_ui = true }))
      local text = assert(util.read(dir .. "/zapp.yaml"))
      assert.is_nil(text:find("@name@", 1, true))
      assert.is_nil(text:find("\n@ui@\n", 1, true))
      local z = assert(require("zpm.zapp").load(dir .. "/zapp.yaml"))
      assert.are.equal("a%1 @ui@ %s", z.meta.name)
      assert.are.same({ "index.html.tmpl", "zerocloud.js", "style.css" },
                      z.ui)
      assert.matches("Hello from a1 ui s!", util.read(dir .. "/main.py"),
                     1, true)
    end)

    it("refuses to overwrite and creates nothing", function()
      local dir = util.tmpdir()
      util.write(dir .. "/style.css", "mine")
      local created, err = project.create(dir, { with_ui = true })
      assert.is_nil(created)
      assert.are.equal("'" .. dir .. "/style.css' already exists!", err)
      assert.is_false(util.exists(dir .. "/zapp.yaml"))
      assert.is_false(util.exists(dir .. "/.zapp"))
      assert.are.equal("mine", util.read(dir .. "/style.css"))
    end)

    it("refuses a target that is a file", function()
      local file = util.tmpdir() .. "/f"
      util.write(file, "")
      local created, err = project.create(file)
      assert.is_nil(created)
      assert.are.equal("Target `location` must be a directory", err)
    end)

    it("removes what it made when a later step fails", function()
      local base = util.tmpdir()
      local dir = base .. "/new/deeper"
      -- a template whose second file cannot be written (its parent is a
      -- file), after the directories and a first file were made
      local home = util.tmpdir()
      assert(lfs.mkdir(home .. "/templates"))
      util.write(home .. "/templates/broken.lua", [[
        return function(ctx)
          ctx:file("ok.txt", "fine")
          ctx:file("ok.txt/child", "cannot")
        end]])
      local created, err
      -- ZPM_PATH is read at call time through os.getenv: run in a child
      local out, _, code = util.sh(("ZPM_PATH=%s lua5.4 -e %s"):format(
        util.quote(home), util.quote(([[
          package.path = %q .. package.path
          package.cpath = %q .. package.cpath
          local c, e = require("zpm.project").create(%q,
            { template = "broken" })
          io.write(tostring(c), "|", tostring(e))]]):format(
          util.source_dir .. "/lua/?.lua;" .. util.source_dir
            .. "/lua/?/init.lua;", util.build_dir .. "/?.so;", dir))))
      assert.are.equal(0, code)
      created, err = out:match("^(.-)|(.*)$")
      assert.are.equal("nil", created)
      assert.matches("ok.txt/child", err)
      assert.is_false(util.exists(base .. "/new"))
    end)
  end)

  describe("find_root", function()
    it("walks up to the directory holding zapp.yaml", function()
      local dir = util.tmpdir()
      util.write(dir .. "/zapp.yaml", "")
      assert(lfs.mkdir(dir .. "/a"))
      assert(lfs.mkdir(dir .. "/a/b"))
      assert.are.equal(dir, project.find_root(dir .. "/a/b"))
    end)

    it("fails when there is none", function()
      local root, err = project.find_root(util.tmpdir())
      assert.is_nil(root)
      assert.are.equal("no zapp.yaml file found", err)
    end)
  end)
end)
