-- wrk script: one token per request from a file of tokens (one per line), in order, each once where possible.
-- `wrk -s bench/tokens.lua ... URL -- TOKEN_FILE`. Headers given with -H are kept; Authorization is set per request.
-- The list wraps when wrk sends more requests than it has tokens: bench/token-load.ts reports how often it did.
local tokens, n, i, headers = {}, 0, 0, {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      n = n + 1
      tokens[n] = "Bearer " .. line
    end
  end
  for k, v in pairs(wrk.headers) do headers[k] = v end
end

function request()
  i = i + 1
  if i > n then i = 1 end
  headers["Authorization"] = tokens[i]
  return wrk.format(nil, nil, headers)
end
