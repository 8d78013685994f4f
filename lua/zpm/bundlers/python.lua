--- Bundler for project_type python (DESIGN.md section 8).
-- `dependencies` are installed with the host's pip (`python3 -m pip
-- install --target`, or $ZPM_PYTHON) into a cache under `.zapp/`, rebuilt
-- only when the list changes or with --refresh-deps; each listed module
-- or package is then added to the zapp under the site-packages prefix
-- (default `lib/python2.7/site-packages`, or `python.site_packages` in
-- zapp.yaml, e.g. for a python3 system image). Where packages come from
-- is pip's own configuration (an index, --find-links, local paths).
local fs = require("zpm.fs")
local json = require("zpm.json")
local log = require("zpm.log")
local errors = require("zpm.errors")
local yaml = require("zpm.yaml")

local quote = fs.shell_quote

local M = {}

M.DEFAULT_PREFIX = "lib/python2.7/site-packages"

-- { { package = "name", modules = { ... } }, ... } from zapp.yaml
local function requirements(deps)
  local list = {}
  for _, dep in ipairs(deps) do
    if type(dep) == "string" then
      list[#list + 1] = { package = dep, modules = { dep } }
    else
      local modules = {}
      for i = 2, #dep do
        modules[#modules + 1] = dep[i]
      end
      if #modules == 0 then
        modules[1] = dep[1]
      end
      list[#list + 1] = { package = dep[1], modules = modules }
    end
  end
  return list
end

local function run(cmd)
  local out = os.tmpname()
  local ok = os.execute(cmd .. " >" .. out .. " 2>&1")
  local text = fs.read(out) or ""
  os.remove(out)
  return ok, text
end

-- (Re)build the cache: pip installs into a fresh directory that replaces
-- the old one only when pip succeeded.
local function install(cache, packages, fingerprint)
  local python = os.getenv("ZPM_PYTHON") or "python3"
  local fresh = cache .. ".new"
  run("rm -rf " .. quote(fresh))
  local words = {}
  for i, p in ipairs(packages) do
    words[i] = quote(p)
  end
  local cmd = ("%s -m pip install --target %s --no-compile "
    .. "--disable-pip-version-check --no-warn-script-location %s")
    :format(quote(python), quote(fresh .. "/site-packages"),
            table.concat(words, " "))
  log.info("installing dependencies: %s", table.concat(packages, " "))
  log.debug("running %s", cmd)
  local ok, output = run(cmd)
  if not ok then
    run("rm -rf " .. quote(fresh))
    return nil, ("pip could not install the dependencies (%s):\n%s")
      :format(table.concat(packages, " "), (output:gsub("%s+$", ""))),
      errors.COMMAND
  end
  -- byte-code caches are the host's, not the zapp's
  run("find " .. quote(fresh) .. " -name __pycache__ -prune -exec rm -rf {} +")
  local wrote, werr, wcode = fs.write(fresh .. "/requirements.json",
                                      fingerprint)
  if not wrote then
    return nil, werr, wcode
  end
  run("rm -rf " .. quote(cache))
  local moved, merr = os.rename(fresh, cache)
  if not moved then
    return nil, merr, errors.IO
  end
  return true
end

function M.bundle(ctx)
  local deps = ctx.zapp.dependencies
  if deps == nil or deps == yaml.null or #deps == 0 then
    return true
  end
  local reqs = requirements(deps)
  local packages = {}
  for i, r in ipairs(reqs) do
    packages[i] = r.package
  end
  local fingerprint = assert(json.encode(packages))
  local cache = fs.join(ctx.root, ".zapp", "python-deps")
  local current = fs.read(fs.join(cache, "requirements.json"))
  if ctx.refresh_deps or current ~= fingerprint then
    local made, merr, mcode = fs.makedirs(fs.join(ctx.root, ".zapp"))
    if not made then
      return nil, merr, mcode
    end
    local ok, err, code = install(cache, packages, fingerprint)
    if not ok then
      return nil, err, code
    end
  else
    log.info("dependencies unchanged: using the cache in %s", cache)
  end

  local python = ctx.zapp.python
  local prefix = M.DEFAULT_PREFIX
  if type(python) == "table" and type(python.site_packages) == "string" then
    prefix = python.site_packages:gsub("/+$", "")
  end
  local site = fs.join(cache, "site-packages")
  for _, r in ipairs(reqs) do
    for _, module in ipairs(r.modules) do
      local dir = fs.join(site, module)
      local file = dir .. ".py"
      local ok, err, code
      if fs.isdir(dir) then
        ok, err, code = ctx:add_tree(dir, prefix .. "/" .. module)
      elseif fs.isfile(file) then
        ok, err, code = ctx:add_file(file, prefix .. "/" .. module .. ".py")
      else
        return nil, ("module '%s' of dependency '%s' is not in the "
          .. "dependency cache; if the list changed outside zpm, run "
          .. "`zpm bundle --refresh-deps`"):format(module, r.package),
          errors.INVALID
      end
      if not ok then
        return nil, err, code
      end
    end
  end
  return true
end

return M
