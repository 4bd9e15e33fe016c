-- Installation and packaging (issue 7): cmake --install into a temporary
-- prefix and link examples/host.c against it with pkg-config and with
-- find_package; the Lua module from the installed tree alone; a .deb with
-- its dependencies declared; the LuaRocks build, offline; the C API
-- reference with warnings as errors. Checked on the plain build (in the
-- sanitizer pass too), since what it tests is the packaging.
local H = require "spec.support.helper"

local root = H.root
local build = os.getenv("HWORKER_PLAIN_BUILD") or H.build

local function run(cmd)
  local out = H.sh(H.plain .. "sh -c " .. H.quote(cmd .. " 2>&1; echo \"exit=$?\""))
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return out:gsub("exit=%d+%s*$", ""), code
end

describe("installation", function()
  local server, dir, prefix
  lazy_setup(function()
    server = H.redis_server()
    dir = H.tmpdir()
    prefix = dir .. "/prefix"
    local out, code = run(("cmake --install %s --prefix %s"):format(H.quote(build), H.quote(prefix)))
    assert.are.equal(0, code, out)
  end)
  lazy_teardown(function()
    server.stop()
    H.sh("rm -rf " .. H.quote(dir))
  end)

  it("installs the libraries, headers, pkg-config file, CMake package, Lua module, CLI, man page "
    .. "and examples", function()
    for _, f in ipairs { "lib/libhworker.a", "lib/libhworker.so", "include/hworker.h", "include/hworker_steps.h",
      "include/hworker_version.h", "lib/pkgconfig/hworker.pc", "lib/cmake/hworker/hworkerConfig.cmake",
      "lib/lua/5.1/hworker.so", "bin/hworker-lua", "share/man/man1/hworker-lua.1",
      "share/hworker/examples/host.c", "share/hworker/examples/jobs/greet.lua", "lib/systemd/system/hworker@.service",
      "share/hworker/examples/hworker.env.example", "share/bash-completion/completions/hworker-lua",
      "share/zsh/vendor-completions/_hworker-lua" } do
      assert.truthy(io.open(prefix .. "/" .. f), "missing " .. f)
    end
    local out = run("objdump -p " .. H.quote(prefix .. "/lib/libhworker.so"))
    -- The SONAME carries the ABI number CMakeLists.txt sets.
    local abi = H.read(H.root .. "/CMakeLists.txt"):match("set%(HWORKER_ABI (%d+)%)")
    assert.are.equal("2", abi)
    assert.matches("SONAME%s+libhworker%.so%." .. abi .. "\n", out)
    out = run("man -l " .. H.quote(prefix .. "/share/man/man1/hworker-lua.1") .. " | col -b")
    assert.matches("hworker%-lua %- run Lua job handlers", out)
    for _, section in ipairs { "NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT",
      "EXIT STATUS", "EXAMPLES" } do
      assert.truthy(out:find("\n" .. section .. "\n", 1, true), "no " .. section .. " section")
    end
    -- Every command has its part, with its own usage.
    for _, cmd in ipairs { "run", "queue", "serve", "events", "cancel", "run-now", "cron" } do
      assert.truthy(out:find("usage: hworker-lua " .. cmd .. " ", 1, true), "no " .. cmd .. " in the page")
    end
    -- The description is prose, not the top-level usage again.
    local description = out:match("\nDESCRIPTION\n(.-)\nCOMMANDS\n")
    assert.is_nil(description:find("usage:", 1, true))
  end)

  it("installs a bash completion that loads and offers the subcommands and their flags", function()
    local script = prefix .. "/share/bash-completion/completions/hworker-lua"
    local out, code = run("bash -n " .. H.quote(script))
    assert.are.equal(0, code, out)
    local function offers(...)
      local words = { ... }
      return (run("bash -c " .. H.quote(("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _hworker_lua; "
        .. "echo \"${COMPREPLY[*]}\""):format(H.quote(script), table.concat(words, " "), #words - 1)))
        :gsub("\n$", ""))
    end
    out = run("bash -c " .. H.quote("source " .. H.quote(script) .. "; complete -p hworker-lua"))
    assert.are.equal("complete -o default -F _hworker_lua hworker-lua\n", out)
    assert.are.equal("serve", offers("hworker-lua", "se"))
    assert.are.equal("run run-now", offers("hworker-lua", "run"))
    assert.are.equal("--token-file", offers("hworker-lua", "serve", "--to"))
    assert.are.equal("--threads --timeout", offers("hworker-lua", "run", "job.lua", "--t"))
    assert.are.equal("add", offers("hworker-lua", "cron", "a"))
    assert.are.equal("events", offers("hworker-lua", "help", "ev"))
  end)

  it("installs a zsh completion that compinit registers and that offers the subcommands and their flags", function()
    local dir_ = prefix .. "/share/zsh/vendor-completions"
    local out, code = run("zsh -n " .. H.quote(dir_ .. "/_hworker-lua"))
    assert.are.equal(0, code, out)
    -- compinit finds it on fpath by its #compdef line.
    out = run("zsh -f -c " .. H.quote(("fpath=(%s $fpath); autoload -Uz compinit; compinit -u -d %s/zcompdump; "
      .. "print -r -- $_comps[hworker-lua]"):format(H.quote(dir_), H.quote(dir))))
    assert.are.equal("_hworker-lua\n", out)
    -- What it offers, with zsh's completion builtins replaced by ones that
    -- print what they are given (they need a terminal's line editor).
    local function offers(prefix_, ...)
      local words = { ... }
      return (run("zsh -f -c " .. H.quote(("fpath=(%s $fpath); autoload -Uz _hworker-lua; "
        .. "_describe() { local -a a; a=(${(P)2}); print -r -- ${a%%%%:*} }; "
        .. "compadd() { shift; print -r -- $@ }; _files() { print -r -- files }; "
        .. "words=(%s); CURRENT=%d; PREFIX=%s; _hworker-lua"):format(H.quote(dir_), table.concat(words, " "), #words,
        H.quote(prefix_)))):gsub("\n$", ""))
    end
    local function has(list, word)
      for w in list:gmatch("%S+") do if w == word then return true end end
      return false
    end
    local commands = offers("", "hworker-lua", "")
    for _, c in ipairs { "run", "serve", "inflight", "cron", "ps", "events" } do
      assert.is_true(has(commands, c), c .. " not in " .. commands)
    end
    assert.is_true(has(offers("--", "hworker-lua", "serve", "--"), "--token-file"))
    assert.is_true(has(offers("--", "hworker-lua", "inflight", "q", "--"), "--text"))
    assert.is_false(has(offers("--", "hworker-lua", "inflight", "q", "--"), "--token-file"))
    assert.are.equal("files", offers("", "hworker-lua", "run", ""))
  end)

  it("builds examples/host.c with pkg-config, and it runs", function()
    local exe = dir .. "/host_pc"
    local out, code = run(("PKG_CONFIG_PATH=%s/lib/pkgconfig; export PKG_CONFIG_PATH; "
      .. "cc -Wall -Werror -o %s %s/examples/host.c $(pkg-config --cflags --libs hworker) -Wl,-rpath,%s/lib"):format(
      prefix, exe, root, prefix))
    assert.are.equal(0, code, out)
    out, code = run(("%s %s %s/examples/add.lua"):format(exe, H.quote(server.url), root))
    assert.are.equal(0, code, out)
    assert.matches("10 jobs succeeded, host total 55", out)
  end)

  it("builds examples/host.c with find_package(hworker), and it runs", function()
    local project = dir .. "/consumer"
    H.sh("mkdir -p " .. project)
    H.file(project, "CMakeLists.txt", [[
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(hworker 0.1 CONFIG REQUIRED)
add_executable(host ]] .. root .. [[/examples/host.c)
target_link_libraries(host PRIVATE hworker::hworker)
set_target_properties(host PROPERTIES BUILD_RPATH ]] .. prefix .. [[/lib)
]])
    local out, code = run(("cmake -S %s -B %s/b -DCMAKE_PREFIX_PATH=%s && cmake --build %s/b"):format(
      project, project, prefix, project))
    assert.are.equal(0, code, out)
    out, code = run(("%s/b/host %s %s/examples/add.lua"):format(project, H.quote(server.url), root))
    assert.are.equal(0, code, out)
    assert.matches("10 jobs succeeded, host total 55", out)
  end)

  it("loads the Lua module with only the installed tree on the path", function()
    local out, code = run(("LUA_PATH='' LUA_CPATH='%s/lib/lua/5.1/?.so' "
      .. "luajit -e 'print(require(\"hworker\").version)'"):format(prefix))
    assert.are.equal(0, code, out)
    local version = run(prefix .. "/bin/hworker-lua --version"):match("(%d+%.%d+%.%d+)")
    assert.are.equal(version .. "\n", out)
  end)

  it("packages a .deb that declares its dependencies and whose hworker-lua runs", function()
    local b = dir .. "/deb"
    local out, code = run(("cmake -S %s -B %s -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=Release >/dev/null "
      .. "&& cmake --build %s -j2 >/dev/null && cd %s && cpack -G DEB"):format(root, b, b, b))
    assert.are.equal(0, code, out)
    local deb = run("ls " .. b .. "/hworker_*_amd64.deb"):gsub("%s+$", "")
    out = run("dpkg-deb -f " .. deb .. " Depends")
    assert.are.equal("libhiredis0.14, libssl3, libluajit-5.1-2, lua-cjson, libmicrohttpd12\n", out)
    local throwaway = dir .. "/root"
    out, code = run(("dpkg -x %s %s && %s/usr/bin/hworker-lua --version"):format(deb, throwaway, throwaway))
    assert.are.equal(0, code, out)
    assert.matches("^hworker%-lua %d+%.%d+%.%d+\n$", out)
    out, code = run(("LUA_PATH='' LUA_CPATH='%s/usr/lib/x86_64-linux-gnu/lua/5.1/?.so' "
      .. "luajit -e 'require \"hworker\"'"):format(throwaway))
    assert.are.equal(0, code, out)
    -- The systemd unit names the packaged hworker-lua, and systemd accepts
    -- it (run from the throwaway tree, as an instance for queue "mail").
    local unit = H.read(throwaway .. "/usr/lib/systemd/system/hworker@.service")
    assert.truthy(unit:find("\nExecStart=/usr/bin/hworker-lua run ${HWORKER_JOB_FILE} --name %i $HWORKER_RUN_FLAGS\n",
      1, true), unit)
    assert.truthy(unit:find("\nExecReload=/bin/kill -HUP $MAINPID\n", 1, true), unit)
    H.file(dir, "hworker@mail.service", (unit:gsub("/usr/bin/hworker%-lua", throwaway .. "/usr/bin/hworker-lua")))
    out, code = run("systemd-analyze verify --man=no " .. H.quote(dir .. "/hworker@mail.service"))
    assert.are.equal(0, code, out)
    assert.are.equal("", out)
  end)

  it("installs the Lua module with LuaRocks, offline", function()
    local tree = dir .. "/rocks"
    local out, code = run(("cd %s && luarocks --lua-version=5.1 --tree=%s make hworker-*.rockspec"):format(root, tree))
    assert.are.equal(0, code, out)
    out, code = run(("LUA_PATH='' LUA_CPATH='%s/lib/lua/5.1/?.so' "
      .. "luajit -e 'print(require(\"hworker\").version)'"):format(tree))
    assert.are.equal(0, code, out)
  end)

  it("documents every public C symbol (Doxygen, warnings as errors)", function()
    local out, code = run(("cd %s && HWORKER_DOXYGEN_OUT=%s/api doxygen docs/Doxyfile"):format(root, dir))
    assert.are.equal(0, code, out)
    assert.truthy(io.open(dir .. "/api/html/hworker_8h.html"))
  end)
end)
