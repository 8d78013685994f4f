--- Long options written as prefixes, as the original zpm (Python's
-- argparse) accepted them: `zpm new --with` for `--with-ui`,
-- `--log-l=debug` for `--log-level=debug`. lua-argparse wants whole
-- names, so the CLI expands the words before it parses them.
--
-- Python's rules: only words starting with `--` (not short options, not
-- a lone `--`, nothing after it); an exact name always wins; a prefix of
-- exactly one option's names becomes that name; a prefix of several is a
-- usage error; a word matching nothing is left for argparse to reject.
-- The names considered are those of the parser level in effect (the
-- main parser's until the command word, then the command's, then its
-- subcommand's), which means following argparse's reading of the words:
-- which of them are option values, positionals or commands.
-- @module zpm.argv

local M = {}

-- The long names of one parser level, in the order they were defined,
-- each as { name, option }.
local function long_names(parser)
  local names = {}
  for _, option in ipairs(parser._options) do
    for _, alias in ipairs(option._aliases) do
      if alias:sub(1, 2) == "--" and #alias > 2 then
        names[#names + 1] = { alias, option }
      end
    end
  end
  return names
end

-- The full name for `name` (a word's part before any `=`), or `name`
-- itself when it matches nothing; nil and a message when it is
-- ambiguous. `known` holds every option name argparse accepts here (it
-- keeps the options of the levels above); `level` is the parser whose
-- names prefixes may stand for.
local function resolve(name, known, level)
  if known[name] or #name <= 2 then
    return name
  end
  local matches, options, distinct = {}, {}, 0
  for _, entry in ipairs(long_names(level)) do
    if entry[1]:sub(1, #name) == name then
      matches[#matches + 1] = entry[1]
      if not options[entry[2]] then
        options[entry[2]] = true
        distinct = distinct + 1
      end
    end
  end
  if distinct == 0 then
    return name
  elseif distinct == 1 then
    -- several names of one option (aliases) are no ambiguity
    return matches[1]
  end
  return nil, ("ambiguous option: %s could match %s"):format(
    name, table.concat(matches, ", "))
end

-- Follows lua-argparse's ParseState over the words: the options known so
-- far (by every name), the positionals still to fill, the option waiting
-- for values and the parser level in effect.
local function new_state(parser)
  local state = { known = {}, arguments = {}, argument_i = 1, pending = 0,
                  handle_options = true }

  function state.switch(level)
    state.level = level
    for _, option in ipairs(level._options) do
      for _, alias in ipairs(option._aliases) do
        state.known[alias] = option
      end
    end
    for _, argument in ipairs(level._arguments) do
      state.arguments[#state.arguments + 1] = { max = argument._maxargs,
                                                count = 0 }
    end
    state.handle_options = level._handle_options ~= false
  end

  -- A word that is not an option: a value of the pending option, a
  -- positional, or else the name of a command.
  function state.plain(word)
    local argument = state.arguments[state.argument_i]
    if state.pending > 0 then
      state.pending = state.pending - 1
    elseif argument then
      argument.count = argument.count + 1
      if argument.count >= argument.max then
        state.argument_i = state.argument_i + 1
      end
    else
      for _, command in ipairs(state.level._commands) do
        for _, alias in ipairs(command._aliases) do
          if alias == word then
            state.switch(command)
            return
          end
        end
      end
    end
  end

  -- A cluster of short options, `-qf` or `-ldebug`: the first one taking
  -- values takes the rest of the word, or else the next words.
  function state.short(word)
    for i = 2, #word do
      local option = state.known["-" .. word:sub(i, i)]
      if not option then
        return
      end
      if option._maxargs > 0 then
        state.pending = option._maxargs - (i < #word and 1 or 0)
        return
      end
    end
  end

  state.switch(parser)
  return state
end

--- Expand the long options written as unambiguous prefixes in a command
-- line.
-- @param parser the parser from `zpm.cli.build_parser()` (lua-argparse)
-- @param argv list of words (without the program name); not modified
-- @return a new list with each such option replaced by its full name
--   (an `=value` suffix kept)
-- @return[2] nil
-- @return[2] message: `ambiguous option: --s could match --summary,
--   --summary-format, --segment-size`
-- @return[2] "invalid"
-- @return[2] { parser = the parser level (command) the word was read at,
--   for its usage }
function M.expand_prefixes(parser, argv)
  local state = new_state(parser)
  local out = {}
  for i, word in ipairs(argv) do
    if word == "--" and state.handle_options then
      -- the rest are not options, whatever they look like
      table.move(argv, i, #argv, i, out)
      break
    elseif state.handle_options and word:sub(1, 1) == "-" and #word > 1 then
      state.pending = 0
      if word:sub(2, 2) == "-" then
        local name, rest = word:match("^([^=]*)(.*)$")
        local full, err = resolve(name, state.known, state.level)
        if not full then
          return nil, err, "invalid", { parser = state.level }
        end
        word = full .. rest
        local option = state.known[full]
        if option then
          state.pending = math.max(0, option._maxargs - (rest ~= "" and 1
                                                           or 0))
        end
      else
        state.short(word)
      end
    else
      state.plain(word)
    end
    out[i] = word
  end
  return out
end

return M
