-- wrk script: each wrk thread walks its own "lane" of pre-signed requests, sending each once.
--
-- Invoked as: wrk -t LANES -c CONNECTIONS ... -s walk.lua URL -- PREFIX HOST FAIL_MARKER FOLLOW_PATTERN WRAP DONE_PATTERN
-- (empty strings for the optional arguments).
--
-- wrk gives every thread its own Lua state, so thread k reads only PREFIX.k (its lane) and no
-- line is sent twice. A line is "TARGET" or "TARGET<TAB>Name: value<TAB>Name: value".
--
-- Follow-ups: a request that must wait for another's answer (detach after attach) is not in the
-- lane's sequence but in PREFIX.k.follow as "KEY<TAB>LINE". When a 2xx response body matches
-- FOLLOW_PATTERN (a Lua pattern with one capture), the next follow-up queued under the captured
-- key is released and sent before any further lane line. If no follow-up is queued under the key
-- and PREFIX.template exists, its line is sent with the key in place of "{}" (moto's Disassociate
-- takes the AssociationId that Associate returned).
--
-- Busy keys: PREFIX.k.keys, if present, gives each lane line a key (the instance it acts on). A
-- line's key is busy from the moment the line is sent until a response matching DONE_PATTERN
-- names it (the answer to the key's last follow-up); a line whose key is busy is deferred, so
-- an instance is never attached again while its previous detach is still in flight, however
-- slow that detach is.
--
-- FAIL_MARKER: a 2xx body containing it counts as failed (a per-item failure in a 200 answer).
-- WRAP = "wrap": a lane may start again from its first line (only for the hello baseline, which
-- ignores what it is sent). Otherwise a lane that runs out stops its thread and reports
-- "exhausted": the harness rejects such a run and retries with more pre-signed requests.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local function build(line, host)
   local parts = {}
   for part in string.gmatch(line, "[^\t]+") do
      table.insert(parts, part)
   end
   local head, has_host = "GET " .. parts[1] .. " HTTP/1.1\r\n", false
   for i = 2, #parts do
      head = head .. parts[i] .. "\r\n"
      if string.lower(string.sub(parts[i], 1, 5)) == "host:" then has_host = true end
   end
   if not has_host then head = head .. "Host: " .. host .. "\r\n" end
   return head .. "\r\n"
end

local function file_exists(name)
   local file = io.open(name, "r")
   if file then file:close() end
   return file ~= nil
end

function init(args)
   local prefix, host = args[1], args[2]
   fail_marker = args[3]
   if fail_marker == "" then fail_marker = nil end
   follow_pattern = args[4]
   if follow_pattern == "" then follow_pattern = nil end
   wrap = args[5] == "wrap"
   done_pattern = args[6]
   if done_pattern == "" then done_pattern = nil end

   local lane = prefix .. "." .. tid
   reqs = {}
   for line in io.lines(lane) do
      if #line > 0 then table.insert(reqs, build(line, host)) end
   end
   nreqs = #reqs
   index = 0
   keys = {}
   if file_exists(lane .. ".keys") then
      for line in io.lines(lane .. ".keys") do
         table.insert(keys, line)
      end
   end
   busy = {}
   deferred = { first = 1, last = 0 }

   -- key -> {first = n, [n] = request, ...}: a FIFO per key
   follows = {}
   if file_exists(lane .. ".follow") then
      for line in io.lines(lane .. ".follow") do
         local tab = string.find(line, "\t", 1, true)
         if tab then
            local key = string.sub(line, 1, tab - 1)
            local queue = follows[key]
            if not queue then
               queue = { first = 1, last = 0 }
               follows[key] = queue
            end
            queue.last = queue.last + 1
            queue[queue.last] = build(string.sub(line, tab + 1), host)
         end
      end
   end
   template_head, template_tail = nil, nil
   if file_exists(prefix .. ".template") then
      local file = io.open(prefix .. ".template", "r")
      local template = build(file:read("*l"), host)
      file:close()
      local at = string.find(template, "{}", 1, true)
      template_head, template_tail = string.sub(template, 1, at - 1), string.sub(template, at + 2)
   end
   -- requests released by responses, sent before further lane lines
   ready = { first = 1, last = 0 }
   exhausted_request = "GET /_bench/exhausted HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"

   sent, followed, non2xx, failed, unmatched, exhausted = 0, 0, 0, 0, 0, 0
   statuses = {}
   sample = ""
end

local function push(queue, value)
   queue.last = queue.last + 1
   queue[queue.last] = value
end

local function pop(queue)
   local value = queue[queue.first]
   queue[queue.first] = nil
   queue.first = queue.first + 1
   return value
end

-- The index of the next lane line to send, or nil when the lane is used up.
local function next_line()
   for _ = 1, deferred.last - deferred.first + 1 do
      local i = pop(deferred)
      if not busy[keys[i]] then return i end
      push(deferred, i)
   end
   while true do
      index = index + 1
      if index > nreqs then
         if not wrap then return nil end
         index = 1
      end
      local key = keys[index]
      if key == nil or not busy[key] then return index end
      push(deferred, index)
      if deferred.last - deferred.first > 10000 then return nil end
   end
end

function request()
   if ready.first <= ready.last then
      followed = followed + 1
      return pop(ready)
   end
   local i = next_line()
   if i == nil then
      exhausted = 1
      wrk.thread:stop()
      return exhausted_request
   end
   if keys[i] then busy[keys[i]] = true end
   sent = sent + 1
   return reqs[i]
end

local function release(key)
   local queue = follows[key]
   local req = nil
   if queue and queue.first <= queue.last then
      req = queue[queue.first]
      queue[queue.first] = nil
      queue.first = queue.first + 1
   elseif template_head then
      req = template_head .. key .. template_tail
   end
   if req then
      push(ready, req)
   else
      unmatched = unmatched + 1
   end
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if sample == "" then sample = string.sub(body or "", 1, 400) end
      return
   end
   if fail_marker and body and string.find(body, fail_marker, 1, true) then
      failed = failed + 1
      if sample == "" then sample = string.sub(body, 1, 400) end
   end
   if follow_pattern and body then
      local key = string.match(body, follow_pattern)
      if key then release(key) end
   end
   if done_pattern and body then
      local key = string.match(body, done_pattern)
      if key then busy[key] = nil end
   end
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local totals = { sent = 0, followed = 0, non2xx = 0, failed = 0, unmatched = 0, exhausted = 0 }
   local statuses_all, samples = {}, {}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + (thread:get(name) or 0)
      end
      local per = thread:get("statuses") or {}
      for code, n in pairs(per) do
         statuses_all[code] = (statuses_all[code] or 0) + n
      end
      local s = thread:get("sample")
      if s and s ~= "" and #samples < 3 then table.insert(samples, json_string(s)) end
   end
   local status_items = {}
   for code, n in pairs(statuses_all) do
      table.insert(status_items, '"' .. code .. '":' .. n)
   end
   local e = summary.errors
   io.write("@@RESULT@@{")
   io.write(string.format('"completed":%d,"duration_us":%d,"bytes":%d,', summary.requests, summary.duration, summary.bytes))
   io.write(string.format('"socket_errors":%d,"timeouts":%d,', e.connect + e.read + e.write + e.timeout, e.timeout))
   for name, n in pairs(totals) do
      io.write(string.format('"%s":%d,', name, n))
   end
   io.write('"statuses":{' .. table.concat(status_items, ",") .. '},')
   io.write('"samples":[' .. table.concat(samples, ",") .. '],')
   io.write(string.format('"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d}',
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.mean, latency.max))
   io.write("}\n")
end
