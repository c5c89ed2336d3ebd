//! Compiling loaded rule definitions into a [`RuleSet`]: each test's literals and
//! regexes into its field's matcher, each rule's condition into a tree over test
//! leaves.

use super::*;

impl RuleSet {
    /// Compiles loaded rule definitions.
    pub fn compile(defs: RuleDefs) -> Result<RuleSet, CompileError> {
        let mut set = RuleSet {
            id: memo::next_rule_set_id(),
            headers: defs.headers,
            ..RuleSet::default()
        };
        // Each regex's gate clauses, from the parse the loader's check made (a regex
        // not there is parsed in `FieldGate::new`).
        let mut required: HashMap<String, Vec<gate::Clause>> = defs
            .regexes
            .into_iter()
            .map(|(src, hir)| {
                let clauses = gate::required_of(&hir);
                (src, clauses)
            })
            .collect();
        let mut matchers: HashMap<Field, FieldMatcher> = HashMap::new();
        for def in &defs.rules {
            let first = set.leaf_count;
            let node = set.add_condition(&def.condition, &mut matchers);
            set.rules.push(Rule {
                leaves: first..set.leaf_count,
                holds_untouched: false,
                id: def.id,
                name: def.name.clone(),
                signature: def.signature.clone(),
                category: def.category,
                severity: def.severity,
                threshold: def.threshold.clone(),
                distinct_field: def.distinct_field,
                node,
            });
        }
        let mut fields: Vec<(Field, FieldMatcher)> = matchers.into_iter().collect();
        fields.sort_by_key(|(f, _)| f.slot(Field::fixed_slots()));
        for (field, m) in fields.iter_mut() {
            m.exact_shape = ExactShape::of(m.exact.keys());
            m.memo = (!m.contains_patterns.is_empty() || !m.regex_sources.is_empty())
                && m.numeric.is_empty()
                && m.exists.is_empty();
            if !m.contains_patterns.is_empty() {
                let ac = AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(m.contains_patterns.iter().map(|(p, _)| p))
                    .map_err(|e| CompileError(format!("field {field:?}: {e}")))?;
                m.contains = Some(ac);
                let literals: Vec<&[u8]> = m
                    .contains_patterns
                    .iter()
                    .map(|(p, _)| p.as_slice())
                    .collect();
                m.contains_any = AnyLiteral::new(&literals).ok();
            }
            if !m.regex_sources.is_empty() {
                let sources: Vec<&str> = m.regex_sources.iter().map(|(s, _)| s.as_str()).collect();
                m.gate = FieldGate::new(&sources, &mut required)
                    .map_err(|e| CompileError(format!("field {field:?}: {e}")))?;
                // Each source was checked within the size limit when its rule was read
                // (rules::condition::parse_op, the only maker of Op::Regex); it is
                // compiled only when a value first gets through its gate.
                m.regexes = sources.iter().map(|s| LazyRegex::new(s)).collect();
                m.evidence = sources.iter().map(|s| LazyEvidence::new(s)).collect();
            }
        }
        for (field, _) in &fields {
            set.read.insert(*field);
        }
        for rule in &set.rules {
            if let Some(f) = rule.distinct_field {
                set.read.insert(f);
            }
        }
        set.filled_bits = fields.iter().map(|(f, _)| f.filled_bit()).collect();
        set.fields = fields;
        set.raw_names = set.raw_filter(Field::HeaderNames);
        set.raw_values = set.raw_filter(Field::HeaderValues);
        let mut empty = Scratch::default();
        empty.reset(set.leaf_count);
        set.holds_untouched = vec![0; set.rules.len().div_ceil(64)];
        set.leaf_rule = vec![u32::MAX; set.leaf_count];
        for (index, rule) in set.rules.iter_mut().enumerate() {
            rule.holds_untouched = eval(&rule.node, &empty).is_some();
            if rule.holds_untouched {
                if let Some(w) = set.holds_untouched.get_mut(index / 64) {
                    *w |= 1 << (index % 64);
                }
            }
            let r = u32::try_from(index)
                .map_err(|_| CompileError(format!("more than {} rules", u32::MAX)))?;
            for leaf in rule.leaves.clone() {
                if let Some(slot) = set.leaf_rule.get_mut(leaf) {
                    *slot = r;
                }
            }
        }
        Ok(set)
    }

    fn new_leaf(&mut self) -> LeafId {
        self.leaf_count += 1;
        self.leaf_count - 1
    }

    fn add_condition(
        &mut self,
        c: &Condition,
        matchers: &mut HashMap<Field, FieldMatcher>,
    ) -> Node {
        match c {
            Condition::All(items) => Node::All(
                items
                    .iter()
                    .map(|i| self.add_condition(i, matchers))
                    .collect(),
            ),
            Condition::Any(items) => Node::Any(
                items
                    .iter()
                    .map(|i| self.add_condition(i, matchers))
                    .collect(),
            ),
            Condition::Not(inner) => Node::Not(Box::new(self.add_condition(inner, matchers))),
            Condition::Test { field, op } => {
                let leaf = self.new_leaf();
                if let Op::Cidr(nets) = op {
                    self.cidrs.push((nets.clone(), leaf));
                    return Node::Leaf(leaf);
                }
                let m = matchers.entry(*field).or_default();
                match op {
                    Op::In(values) => {
                        for v in values {
                            m.exact.entry(v.clone()).or_default().push(leaf);
                        }
                    }
                    Op::Prefix(values) => {
                        m.prefixes.extend(values.iter().map(|v| (v.clone(), leaf)))
                    }
                    Op::Suffix(values) => {
                        m.suffixes.extend(values.iter().map(|v| (v.clone(), leaf)))
                    }
                    Op::Contains(values) => m
                        .contains_patterns
                        .extend(values.iter().map(|v| (v.clone(), leaf))),
                    Op::Regex(src) => m.regex_sources.push((src.clone(), leaf)),
                    Op::Lt(n) => m.numeric.push((Cmp::Lt, *n, leaf)),
                    Op::Le(n) => m.numeric.push((Cmp::Le, *n, leaf)),
                    Op::Gt(n) => m.numeric.push((Cmp::Gt, *n, leaf)),
                    Op::Ge(n) => m.numeric.push((Cmp::Ge, *n, leaf)),
                    Op::Exists => m.exists.push(leaf),
                    Op::Cidr(_) => {}
                }
                Node::Leaf(leaf)
            }
        }
    }
}
