-- A relay between clients and a real redis-server, over unix sockets, that
-- loses one reply: the first request holding MARKER reaches Redis, which
-- runs it, and when Redis answers, the relay closes that client's connection
-- instead of passing the answer on, as a network that fails at that moment
-- would. Everything else passes through unchanged, both ways.
-- usage: luajit lose_reply.lua LISTEN_PATH REDIS_PATH MARKER
-- Prints "listening" once clients can connect, and "lost" when it dropped
-- the reply.
local listen_path, redis_path, marker = arg[1], arg[2], arg[3]
local ffi = require "ffi"
ffi.cdef [[
  typedef struct { unsigned short sun_family; char sun_path[108]; } hw_sockaddr_un;
  typedef struct { int fd; short events; short revents; } hw_pollfd;
  int socket(int domain, int type, int protocol);
  int bind(int fd, const void *addr, unsigned int len);
  int listen(int fd, int backlog);
  int accept(int fd, void *addr, void *len);
  int connect(int fd, const void *addr, unsigned int len);
  int poll(hw_pollfd *fds, unsigned long nfds, int timeout);
  long read(int fd, void *buf, unsigned long n);
  long write(int fd, const void *buf, unsigned long n);
  int close(int fd);
  int unlink(const char *path);
]]
local AF_UNIX, SOCK_STREAM, POLLIN = 1, 1, 1

local function address(path)
  local a = ffi.new("hw_sockaddr_un")
  a.sun_family = AF_UNIX
  ffi.copy(a.sun_path, path)
  return a
end

local function write_all(fd, data)
  local sent = 0
  while sent < #data do
    local n = ffi.C.write(fd, ffi.cast("const char *", data) + sent, #data - sent)
    if n <= 0 then return false end
    sent = sent + tonumber(n)
  end
  return true
end

ffi.C.unlink(listen_path)
local listener = ffi.C.socket(AF_UNIX, SOCK_STREAM, 0)
assert(ffi.C.bind(listener, address(listen_path), ffi.sizeof("hw_sockaddr_un")) == 0, "bind " .. listen_path)
assert(ffi.C.listen(listener, 64) == 0)
io.stdout:write("listening\n")
io.stdout:flush()

local pairs_ = {} -- { client = fd, server = fd, tail = text, lose = bool }
local lost = false
local buf = ffi.new("char[65536]")

local function drop(p)
  ffi.C.close(p.client)
  ffi.C.close(p.server)
  for i, q in ipairs(pairs_) do
    if q == p then table.remove(pairs_, i) break end
  end
end

while true do
  local fds = ffi.new("hw_pollfd[?]", 1 + 2 * #pairs_)
  fds[0].fd, fds[0].events = listener, POLLIN
  for i, p in ipairs(pairs_) do
    fds[2 * i - 1].fd, fds[2 * i - 1].events = p.client, POLLIN
    fds[2 * i].fd, fds[2 * i].events = p.server, POLLIN
  end
  ffi.C.poll(fds, 1 + 2 * #pairs_, 1000)
  local current = { unpack(pairs_) }
  for i, p in ipairs(current) do
    if fds[2 * i - 1].revents ~= 0 then
      local n = tonumber(ffi.C.read(p.client, buf, 65536))
      if n <= 0 then drop(p) goto next end
      local data = ffi.string(buf, n)
      if not lost and (p.tail .. data):find(marker, 1, true) then p.lose, lost = true, true end
      p.tail = data:sub(-#marker)
      if not write_all(p.server, data) then drop(p) goto next end
    end
    if fds[2 * i].revents ~= 0 then
      local n = tonumber(ffi.C.read(p.server, buf, 65536))
      if n <= 0 or p.lose then
        if p.lose then
          io.stdout:write("lost\n")
          io.stdout:flush()
        end
        drop(p)
        goto next
      end
      if not write_all(p.client, ffi.string(buf, n)) then drop(p) goto next end
    end
    ::next::
  end
  if fds[0].revents ~= 0 then
    local client = ffi.C.accept(listener, nil, nil)
    local server = ffi.C.socket(AF_UNIX, SOCK_STREAM, 0)
    if client >= 0 and ffi.C.connect(server, address(redis_path), ffi.sizeof("hw_sockaddr_un")) == 0 then
      pairs_[#pairs_ + 1] = { client = client, server = server, tail = "" }
    else
      if client >= 0 then ffi.C.close(client) end
      ffi.C.close(server)
    end
  end
end
