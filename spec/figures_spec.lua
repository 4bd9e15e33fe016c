-- tools/figures (tools/dev figures): figure blocks in the docs are rendered
-- from the latest result file of their kind, and --check fails when the
-- docs quote anything else. Each test runs the tool in a scratch git
-- repository holding copies of tools/figures and tools/result-header.
local H = require "spec.support.helper"
local q = H.quote

-- Shell commands without the sanitizer runtimes of the ASan pass: nothing
-- here runs hworker's code.
local function sh(cmd) return H.sh(H.plain .. "sh -c " .. q(cmd)) end

local function git(repo, args)
  return sh("cd " .. q(repo) .. " && git -c user.name=spec -c user.email=spec@localhost " .. args)
end

local DOC = [[
# Figures

<!-- figures: bench -->
<!-- /figures -->

Text after the block stays.
]]

-- A scratch repository with one source file, committed.
local function repo()
  local dir = H.tmpdir()
  sh(("mkdir -p %s/tools %s/docs"):format(q(dir), q(dir)))
  sh(("cp %s/tools/figures %s/tools/result-header %s/tools/"):format(q(H.root), q(H.root), q(dir)))
  H.file(dir, "docs/figures.md", DOC)
  H.file(dir, "engine.c", "int main(void) { return 0; }\n")
  git(dir, "init -q && git -c user.name=spec -c user.email=spec@localhost add -A && "
    .. "git -c user.name=spec -c user.email=spec@localhost commit -q -m start")
  return dir
end

-- A result of KIND named by STAMP, headed as tools/result-header heads it.
local function result(dir, kind, stamp, body)
  local header = sh(("cd %s && tools/result-header %s 'bench/run'"):format(q(dir), kind))
  assert(header:match("^# " .. kind .. " result"), header)
  sh(("mkdir -p %s/docs/results/%s"):format(q(dir), kind))
  local path = ("docs/results/%s/%s.md"):format(kind, stamp)
  H.file(dir, path, header .. body)
  return path
end

local function figures(dir, check)
  return H.run("luajit", q(dir .. "/tools/figures") .. (check and " --check" or ""), nil, H.plain)
end

local OLD, NEW = "2026-01-01T000000Z", "2026-02-01T000000Z"

describe("tools/figures", function()
  local dirs = {}
  local function fresh()
    local d = repo()
    dirs[#dirs + 1] = d
    return d
  end
  teardown(function()
    for _, d in ipairs(dirs) do sh("rm -rf " .. q(d)) end
  end)

  it("renders the latest result of the kind with a line naming it, and --check passes once it is committed", function()
    local dir = fresh()
    result(dir, "bench", OLD, "| figure | value |\n|---|---|\n| drain | 111 |\n")
    local path = result(dir, "bench", NEW, "| figure | value |\n|---|---|\n| drain | 222 |\n")
    local out, err, code = figures(dir)
    assert.are.equal(0, code, out .. err)
    local doc = H.read(dir .. "/docs/figures.md")
    assert.truthy(doc:find("| drain | 222 |", 1, true), doc)
    assert.falsy(doc:find("| drain | 111 |", 1, true), doc)
    local commit = git(dir, "rev-parse HEAD"):sub(1, 12)
    local digest = sh("cd " .. q(dir) .. " && tools/result-header --digest"):gsub("%s+$", "")
    assert.truthy(doc:find(("from [%s](results/bench/%s.md): commit %s, source %s (clean)"):format(
      path, NEW, commit, digest), 1, true), doc)
    assert.truthy(doc:find("Text after the block stays.", 1, true), doc)

    git(dir, "add -A && git -c user.name=spec -c user.email=spec@localhost commit -q -m results")
    out, err, code = figures(dir, true)
    assert.are.equal(0, code, out .. err)
    -- Rendering again changes nothing.
    figures(dir)
    assert.are.equal("", git(dir, "status --porcelain"))
  end)

  it("--check fails on a figure edited by hand, and rewrites nothing", function()
    local dir = fresh()
    result(dir, "bench", NEW, "| drain | 222 |\n")
    figures(dir)
    local doc = H.read(dir .. "/docs/figures.md"):gsub("| drain | 222 |", "| drain | 999 |")
    H.file(dir, "docs/figures.md", doc)
    git(dir, "add -A && git -c user.name=spec -c user.email=spec@localhost commit -q -m edited")
    local _, err, code = figures(dir, true)
    assert.are.equal(1, code)
    assert.truthy(err:find("docs/figures.md:3: the bench block differs from its rendering", 1, true), err)
    assert.are.equal(doc, H.read(dir .. "/docs/figures.md"))
  end)

  it("--check fails when a newer result of the kind exists than the one quoted, naming both", function()
    local dir = fresh()
    local old = result(dir, "bench", OLD, "| drain | 111 |\n")
    figures(dir)
    local new = result(dir, "bench", NEW, "| drain | 222 |\n")
    git(dir, "add -A && git -c user.name=spec -c user.email=spec@localhost commit -q -m results")
    local _, err, code = figures(dir, true)
    assert.are.equal(1, code)
    local expected = ("the bench block quotes %s, but the latest bench result is %s"):format(old, new)
    assert.truthy(err:find(expected, 1, true), err)
  end)

  it("--check fails when the sources changed since the result was measured", function()
    local dir = fresh()
    local path = result(dir, "bench", NEW, "| drain | 222 |\n")
    figures(dir)
    git(dir, "add -A && git -c user.name=spec -c user.email=spec@localhost commit -q -m results")
    assert.are.equal(0, select(3, figures(dir, true)))
    H.file(dir, "engine.c", "int main(void) { return 1; }\n")
    git(dir, "commit -q -am 'engine changed'")
    local _, err, code = figures(dir, true)
    assert.are.equal(1, code)
    assert.truthy(err:find(path:gsub("%p", "%%%0") .. " was measured on source %x+, HEAD's is %x+"), err)
  end)

  it("--check fails on a result measured on a dirty tree", function()
    local dir = fresh()
    H.file(dir, "engine.c", "int main(void) { return 2; }\n") -- not committed
    local path = result(dir, "bench", NEW, "| drain | 222 |\n")
    git(dir, "checkout -q engine.c")
    figures(dir)
    git(dir, "add -A && git -c user.name=spec -c user.email=spec@localhost commit -q -m results")
    local _, err, code = figures(dir, true)
    assert.are.equal(1, code)
    assert.truthy(err:find(path .. " was measured on a dirty tree", 1, true), err)
  end)

  it("--check fails on a quoted result that is not committed", function()
    local dir = fresh()
    local path = result(dir, "bench", NEW, "| drain | 222 |\n")
    figures(dir)
    git(dir, "add docs/figures.md && git -c user.name=spec -c user.email=spec@localhost commit -q -m docs")
    local _, err, code = figures(dir, true)
    assert.are.equal(1, code)
    assert.truthy(err:find(path .. " is not committed", 1, true), err)
  end)

  it("--check fails on a kind with no result, and on a block never closed or of an unknown kind", function()
    local dir = fresh()
    local _, err, code = figures(dir, true)
    assert.are.equal(1, code)
    assert.truthy(err:find("no bench result under docs/results/bench", 1, true), err)

    -- A doc whose markers are broken is left as it is, even its good blocks.
    local unclosed = "<!-- figures: bench -->\nold\n<!-- /figures -->\n<!-- figures: chaos -->\nold\n"
    local typo = "<!-- figures: bench -->\nold\n\n<!-- figures: benhc -->\n<!-- /figures -->\n"
    H.file(dir, "docs/unclosed.md", unclosed)
    H.file(dir, "docs/typo.md", typo)
    _, err, code = figures(dir)
    assert.are.equal(1, code)
    assert.truthy(err:find("docs/unclosed.md:4: the figures block opened here is never closed", 1, true), err)
    assert.truthy(err:find("docs/typo.md:4: unknown figures kind 'benhc'", 1, true), err)
    assert.truthy(err:find("docs/typo.md:4: a figures block opens inside the one opened at line 1", 1, true), err)
    assert.are.equal(unclosed, H.read(dir .. "/docs/unclosed.md"))
    assert.are.equal(typo, H.read(dir .. "/docs/typo.md"))
  end)
end)
