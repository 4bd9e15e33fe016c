-- The reading of an inflight member that fuzz/fuzz_claim.c holds the engine
-- to. It shares no code with core/claims.c or core/json.c: the claim is split
-- as the Redis scripts split it (scripts/lib/envelope.lua), the header and
-- the JSON are decoded by lua-cjson, and the rules are those of
-- docs/wire-format.md ("Envelope"). Called with the cjson module; returns
-- { claim = fn, decodes = fn }.
local cjson = ...

-- A private instance that refuses what cjson would take for a number but
-- JSON does not (+1, 0x10, 01, inf, nan). What it still takes beyond JSON is
-- listed, and checked byte by byte, in fuzz_claim.c (cjson_only).
local strict = cjson.new()
strict.decode_invalid_numbers(false)

-- Whether text is one JSON value for cjson, and the value.
local function decodes(text)
  return pcall(strict.decode, text)
end

local function number(x)
  if type(x) == 'number' then return x end
  return nil
end

-- member -> envelope_at (1-based), verdict, then for a verdict of 'ok':
-- id, at, rc, eq (each the header's number, or nil when the header has none
-- or holds something else), job_at (1-based).
local function claim(member)
  local envelope_at = string.match(member, '^[^|]*|[^|]*|()') or 1
  local envelope = string.sub(member, envelope_at)
  local nl = string.find(envelope, '\n', 1, true)
  if nl == nil then return envelope_at, 'no header line' end
  local text = string.sub(envelope, 1, nl - 1)
  local ok, header = decodes(text)
  -- cjson makes a table of an array too: an object is what starts with '{'.
  if not ok or type(header) ~= 'table' or not string.find(text, '^[ \t\r]*{') then
    return envelope_at, 'header not an object'
  end
  if header.v ~= 1 then return envelope_at, 'version not 1' end
  if type(header.id) ~= 'string' or header.id == '' then return envelope_at, 'no id' end
  return envelope_at, 'ok', header.id, number(header.at), number(header.rc), number(header.eq), envelope_at + nl
end

return { claim = claim, decodes = decodes }
