-- wrk script shared by every scenario: rotates over the requests of a targets file and
-- reports machine-readable figures in done().
--
--   wrk ... -s bench/rotate.lua URL -- TARGETS_FILE EXPECTED_STATUS
--
-- TARGETS_FILE holds one request per line, fields separated by a tab:
--   METHOD <tab> PATH <tab> BODY <tab> Header-Name: value <tab> Header-Name: value ...
-- (BODY may be empty). EXPECTED_STATUS is the one status every answer must have
-- (200 for pages, 302 for a successful login): anything else is counted as an error,
-- so a lost session answering with a redirect to the login page cannot pass as success.

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_index", thread_count)
   table.insert(threads, thread)
end

local function split(line, separator)
   local fields = {}
   local start = 1
   while true do
      local position = string.find(line, separator, start, true)
      if position == nil then
         table.insert(fields, string.sub(line, start))
         return fields
      end
      table.insert(fields, string.sub(line, start, position - 1))
      start = position + 1
   end
end

local requests = {}
local next_request = 1
expected_status = 200
unexpected = 0
unexpected_sample = ""

function init(args)
   local path = args[1]
   expected_status = tonumber(args[2] or "200")
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      if line ~= "" then
         local fields = split(line, "\t")
         local headers = {}
         for index = 4, #fields do
            local name, value = string.match(fields[index], "^([^:]+):%s*(.*)$")
            if name then
               headers[name] = value
            end
         end
         local body = fields[3]
         if body == "" then
            body = nil
         end
         table.insert(requests, wrk.format(fields[1], fields[2], headers, body))
      end
   end
   file:close()
   if #requests == 0 then
      error("no requests in " .. path)
   end
   -- Threads start at different points of the rotation, so they do not ask for the
   -- same target at the same moment.
   next_request = ((thread_index or 1) - 1) * math.floor(#requests / 2) % #requests + 1
end

function request()
   local chosen = requests[next_request]
   next_request = next_request % #requests + 1
   return chosen
end

function response(status, headers, body)
   if status ~= expected_status then
      unexpected = unexpected + 1
      if unexpected_sample == "" then
         unexpected_sample = tostring(status) .. " " .. tostring(headers["Location"] or "")
      end
   end
end

function done(summary, latency, requests_made)
   local unexpected_total = 0
   local sample = ""
   for _, thread in ipairs(threads) do
      unexpected_total = unexpected_total + (thread:get("unexpected") or 0)
      local thread_sample = thread:get("unexpected_sample") or ""
      if sample == "" then
         sample = thread_sample
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, '
         .. '"p99_us": %d, "max_us": %d, "connect_errors": %d, "read_errors": %d, '
         .. '"write_errors": %d, "timeouts": %d, "http_errors": %d, "unexpected_status": %d, '
         .. '"unexpected_sample": "%s"}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, errors.connect, errors.read, errors.write,
      errors.timeout, errors.status, unexpected_total, (string.gsub(sample, '["\\]', ""))
   ))
end
