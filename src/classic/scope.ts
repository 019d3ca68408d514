// Classic mode's teleport check: which names a function's source uses without declaring them
// (its free variables), found statically so that run() can refuse a closure, naming the
// variable, before anything runs. A small tokenizer and a scope scan, not a full parser: it errs
// towards reporting fewer names (a miss is then the usual ReferenceError when the code runs over
// there), never towards calling a property, key, label or local of the function free.

/** A token: `n` name, `p` punctuator, `v` any other value (number, string, regex, template). */
interface Token {
  t: 'n' | 'p' | 'v'
  s: string
  /** A line break comes before it. */
  nl: boolean
}

/** Words that are never a variable reference. */
const KEYWORDS = new Set([
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'export',
  'extends', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'new', 'return', 'super', 'switch',
  'this', 'throw', 'try', 'typeof', 'var', 'void', 'while', 'with', 'null', 'true', 'false', 'enum',
  // contextual words, taken as keywords: a variable of one of these names is not worth the ambiguity
  'await', 'yield', 'let', 'static', 'of',
])

/** Contextual words that are also common variable names: keywords only where a name or key follows. */
const SOFT = new Set(['async', 'get', 'set'])

/** Names after which a `/` starts a regular expression rather than dividing. */
const BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await'])

/** Keywords a parenthesis follows that are not a method definition `name(...) {`. */
const NOT_METHOD = new Set(['if', 'while', 'for', 'switch', 'catch', 'with', 'function', 'return', 'typeof', 'await', 'yield', 'void', 'delete', 'new', 'in', 'of', 'case', 'do', 'else', 'throw'])

const PUNCTUATORS = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>',
]

const ID_START = /[\p{ID_Start}$_\\]/u
// ZWNJ and ZWJ may continue an identifier (ECMA-262 IdentifierPartChar); each is a class member of its own
// eslint-disable-next-line no-misleading-character-class
const ID_PART = /[\p{ID_Continue}$\u200c\u200d\\]/u

/** Splits source into tokens; template substitutions become parenthesized token runs. Throws SyntaxError on an unterminated literal or comment. */
export function tokenize(src: string): Token[] {
  const out: Token[] = []
  let i = 0
  let nl = false
  const push = (t: Token['t'], s: string) => {
    out.push({ t, s, nl })
    nl = false
  }
  const unterminated = (what: string): never => {
    throw new SyntaxError(`unterminated ${what} in the function's source`)
  }
  // closers of open `${`: a `}` at this brace depth ends the substitution
  const templates: number[] = []
  let braces = 0
  const template = () => {
    // i is just past a backtick or a substitution's `}`
    for (;;) {
      if (i >= src.length) unterminated('template literal')
      const c = src[i]!
      if (c === '\\') i += 2
      else if (c === '`') {
        i++
        push('v', '`')
        return
      } else if (c === '$' && src[i + 1] === '{') {
        i += 2
        push('v', '`')
        push('p', '(')
        templates.push(braces)
        braces++
        return
      } else i++
    }
  }
  while (i < src.length) {
    const c = src[i]!
    if (c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029') {
      nl = true
      i++
    } else if (c === ' ' || c === '\t' || c === '\v' || c === '\f' || c === '\ufeff' || /\s/.test(c)) i++
    else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n' && src[i] !== '\r') i++
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2)
      if (end < 0) unterminated('comment')
      if (/[\n\r\u2028\u2029]/.test(src.slice(i, end))) nl = true
      i = end + 2
    } else if (c === '"' || c === "'") {
      let j = i + 1
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++
        else if (src[j] === '\n') unterminated('string')
        j++
      }
      if (j >= src.length) unterminated('string')
      push('v', src.slice(i, j + 1))
      i = j + 1
    } else if (c === '`') {
      i++
      template()
    } else if (c === '}' && templates.length > 0 && templates[templates.length - 1] === braces - 1) {
      templates.pop()
      braces--
      i++
      push('p', ')')
      template()
    } else if (ID_START.test(c)) {
      let j = i + 1
      while (j < src.length && ID_PART.test(src[j]!)) j++
      push('n', src.slice(i, j))
      i = j
    } else if (c === '#' && i + 1 < src.length && ID_START.test(src[i + 1]!)) {
      let j = i + 2
      while (j < src.length && ID_PART.test(src[j]!)) j++
      push('v', src.slice(i, j)) // a private name: never a variable
      i = j
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let j = i + 1
      while (j < src.length && /[0-9a-zA-Z_.]/.test(src[j]!)) {
        // an exponent's sign belongs to the number
        if ((src[j] === 'e' || src[j] === 'E') && (src[j + 1] === '+' || src[j + 1] === '-') && !/^0[xX]/.test(src.slice(i, j))) j++
        j++
      }
      push('v', src.slice(i, j))
      i = j
    } else if (c === '/' && regexAllowed(out[out.length - 1])) {
      let j = i + 1
      let inClass = false
      while (j < src.length && (inClass || src[j] !== '/')) {
        if (src[j] === '\\') j++
        else if (src[j] === '[') inClass = true
        else if (src[j] === ']') inClass = false
        else if (src[j] === '\n') unterminated('regular expression')
        j++
      }
      if (j >= src.length) unterminated('regular expression')
      j++
      while (j < src.length && ID_PART.test(src[j]!)) j++
      push('v', src.slice(i, j))
      i = j
    } else {
      let p = PUNCTUATORS.find((q) => src.startsWith(q, i)) ?? c
      // `a?.5:b` is a conditional, not optional chaining
      if (p === '?.' && /[0-9]/.test(src[i + 2] ?? '')) p = '?'
      if (p === '{') braces++
      else if (p === '}') braces--
      push('p', p)
      i += p.length
    }
  }
  return out
}

function regexAllowed(prev: Token | undefined): boolean {
  if (prev === undefined) return true
  if (prev.t === 'v') return false
  if (prev.t === 'n') return BEFORE_REGEX.has(prev.s)
  return prev.s !== ')' && prev.s !== ']'
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' }

/** The index of the bracket that closes the one at `i` (or tokens.length if unbalanced). */
function closing(tokens: Token[], i: number): number {
  let depth = 0
  for (let j = i; j < tokens.length; j++) {
    const s = tokens[j]!.t === 'p' ? tokens[j]!.s : ''
    if (s === '(' || s === '[' || s === '{') depth++
    else if (s === ')' || s === ']' || s === '}') if (--depth === 0) return j
  }
  return tokens.length
}

/** The index of the bracket that opens the one that closes at `i` (or -1). */
function opening(tokens: Token[], i: number): number {
  let depth = 0
  for (let j = i; j >= 0; j--) {
    const s = tokens[j]!.t === 'p' ? tokens[j]!.s : ''
    if (s === ')' || s === ']' || s === '}') depth++
    else if (s === '(' || s === '[' || s === '{') if (--depth === 0) return j
  }
  return -1
}

const is = (tok: Token | undefined, s: string) => tok !== undefined && tok.t === 'p' && tok.s === s
const isName = (tok: Token | undefined) => tok !== undefined && tok.t === 'n' && !KEYWORDS.has(tok.s)

/** Whether a SOFT word at `i` is a modifier (`get x()`, `async function`, `async (a) =>`), not a variable. */
function isModifier(tokens: Token[], i: number): boolean {
  const next = tokens[i + 1]
  if (next === undefined) return false
  if (next.t === 'n' || next.t === 'v' || is(next, '[') || is(next, '*')) return true
  return tokens[i]!.s === 'async' && is(next, '(') && is(tokens[closing(tokens, i + 1) + 1], '=>')
}

/**
 * Skips an expression from `i` up to a `,` or closing bracket at its own level, or the end of a
 * statement; returns the index of the token that ended it.
 */
function skipExpression(tokens: Token[], i: number): number {
  let j = i
  while (j < tokens.length) {
    const tok = tokens[j]!
    if (tok.t === 'p') {
      if (OPEN[tok.s] !== undefined) {
        j = closing(tokens, j) + 1
        continue
      }
      if (tok.s === ',' || tok.s === ';' || tok.s === ')' || tok.s === ']' || tok.s === '}') return j
    } else if (tok.t === 'n' && j > i && (tok.s === 'of' || tok.s === 'in') && !is(tokens[j - 1], '.')) return j
    j++
  }
  return j
}

/**
 * Collects the names a binding pattern at `i` declares (a name, `[...]` or `{...}`, with defaults
 * and rests); default values are skipped, so the names they use stay references. Returns the index
 * after the pattern.
 */
function pattern(tokens: Token[], i: number, into: Set<string>): number {
  const tok = tokens[i]
  if (tok === undefined) return i
  if (tok.t === 'n') {
    if (!KEYWORDS.has(tok.s)) into.add(tok.s)
    return i + 1
  }
  if (is(tok, '[') || is(tok, '{')) {
    const end = closing(tokens, i)
    const object = tok.s === '{'
    let j = i + 1
    while (j < end) {
      if (is(tokens[j], ',')) {
        j++
        continue
      }
      if (is(tokens[j], '...')) j = pattern(tokens, j + 1, into)
      else if (object) {
        // key: value | [computed]: value | shorthand (= default)
        const key = tokens[j]!
        const afterKey = is(key, '[') ? closing(tokens, j) + 1 : j + 1
        if (is(tokens[afterKey], ':')) j = pattern(tokens, afterKey + 1, into)
        else j = pattern(tokens, j, into)
      } else j = pattern(tokens, j, into)
      if (is(tokens[j], '=')) j = skipExpression(tokens, j + 1)
      // anything this scan does not understand: move on rather than loop
      if (j < end && !is(tokens[j], ',')) j = skipExpression(tokens, j)
    }
    return end + 1
  }
  return i + 1
}

/** Collects a parameter list `( ... )` opening at `i`. */
function params(tokens: Token[], i: number, into: Set<string>): void {
  const end = closing(tokens, i)
  let j = i + 1
  while (j < end) {
    if (is(tokens[j], ',')) {
      j++
      continue
    }
    j = pattern(tokens, is(tokens[j], '...') ? j + 1 : j, into)
    if (is(tokens[j], '=')) j = skipExpression(tokens, j + 1)
    if (j < end && !is(tokens[j], ',')) j = skipExpression(tokens, j)
  }
}

/** Whether `name (` at `i` starts a method definition: its `)` is followed by `{`. */
function isMethod(tokens: Token[], i: number): boolean {
  const tok = tokens[i]!
  if (!is(tokens[i + 1], '(') || (tok.t === 'n' && NOT_METHOD.has(tok.s))) return false
  return is(tokens[closing(tokens, i + 1) + 1], '{')
}

/**
 * Every name the source declares anywhere: variables, functions, classes, parameters (of
 * functions, arrows, methods), catch bindings. Block scopes are not told apart: a name declared
 * in any inner scope counts as declared throughout, which can only hide a free name, never invent one.
 */
function declarations(tokens: Token[]): Set<string> {
  const names = new Set<string>(['arguments'])
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!
    const prevDot = is(tokens[i - 1], '.') || is(tokens[i - 1], '?.')
    if (tok.t === 'n' && !prevDot) {
      const next = tokens[i + 1]
      if (tok.s === 'var' || tok.s === 'const' || (tok.s === 'let' && (next?.t === 'n' || is(next, '[') || is(next, '{')))) {
        let j = i + 1
        for (;;) {
          j = pattern(tokens, j, names)
          if (is(tokens[j], '=')) j = skipExpression(tokens, j + 1)
          if (!is(tokens[j], ',')) break
          j++
        }
      } else if (tok.s === 'function') {
        let j = i + 1
        if (is(tokens[j], '*')) j++
        if (tokens[j]?.t === 'n') names.add(tokens[j++]!.s)
        if (is(tokens[j], '(')) params(tokens, j, names)
      } else if (tok.s === 'class' && isName(next)) names.add(next!.s)
      else if (tok.s === 'catch' && is(next, '(')) pattern(tokens, i + 2, names)
    }
    if (is(tok, '=>')) {
      const prev = tokens[i - 1]
      if (prev?.t === 'n') names.add(prev.s)
      else if (is(prev, ')')) params(tokens, opening(tokens, i - 1), names)
    }
    if ((tok.t === 'n' || tok.t === 'v' || is(tok, ']')) && !prevDot && is(tokens[i + 1], '(') && isMethod(tokens, i)) {
      params(tokens, i + 1, names)
    }
  }
  return names
}

type Level = { kind: 'paren' | 'block' | 'class'; ternary: number }

/**
 * The names `source` (a function, or any code) reads or writes without declaring them, in order
 * of first use: its free variables, globals included. Property names, object keys, labels,
 * class members and method names are not references. Throws SyntaxError for an unterminated
 * string, template, regex or comment.
 */
export function freeNames(source: string): string[] {
  const tokens = tokenize(source)
  const declared = declarations(tokens)
  const free = new Set<string>()
  const levels: Level[] = [{ kind: 'block', ternary: 0 }]
  // bracket depth at which a `class` keyword waits for its body's `{`
  let classAt = -1
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!
    const top = levels[levels.length - 1]!
    const prev = tokens[i - 1]
    if (tok.t === 'p') {
      if (tok.s === '(' || tok.s === '[' || tok.s === '{') {
        const isClass = tok.s === '{' && classAt === levels.length && !(top.kind === 'class' && prev?.s === 'static')
        if (isClass) classAt = -1
        levels.push({ kind: isClass ? 'class' : tok.s === '{' ? 'block' : 'paren', ternary: 0 })
      } else if (tok.s === ')' || tok.s === ']' || tok.s === '}') {
        if (levels.length > 1) levels.pop()
      } else if (tok.s === '?') top.ternary++
      else if (tok.s === ':' && top.ternary > 0) top.ternary--
      continue
    }
    if (tok.t !== 'n') continue
    if (tok.s === 'class' && !is(prev, '.') && !is(tokens[i + 1], ':')) classAt = levels.length
    if (KEYWORDS.has(tok.s) || declared.has(tok.s) || (SOFT.has(tok.s) && isModifier(tokens, i))) continue
    // a property: a.name, a?.name
    if (is(prev, '.') || is(prev, '?.')) continue
    // a label: break name, continue name
    if (prev?.t === 'n' && (prev.s === 'break' || prev.s === 'continue')) continue
    // an object key or label (`name:`), unless it is the middle of a conditional or a case
    if (is(tokens[i + 1], ':') && top.ternary === 0 && !(prev?.t === 'n' && prev.s === 'case')) continue
    // a method definition: name(...) { ... }
    if (isMethod(tokens, i)) continue
    // a class member: at the start of a member (after `{`, `;`, `}`, a modifier, a line break)
    if (top.kind === 'class') {
      const start = prev === undefined || is(prev, '{') || is(prev, ';') || is(prev, '}') || is(prev, '*') || tok.nl
        || (prev.t === 'n' && (prev.s === 'static' || SOFT.has(prev.s)))
      if (start) continue
    }
    free.add(tok.s)
  }
  return [...free]
}
