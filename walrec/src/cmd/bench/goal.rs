//! The figures `walrec bench` judges, each with its goal: the goal's text and whether it is met
//! both derive from one target, so the two cannot disagree.

/// A figure with a goal.
pub struct Goal {
    pub key: &'static str,
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    /// The goal as printed (">= 250", "<= 0.80").
    pub goal: String,
    pub met: bool,
}

impl Goal {
    /// `value` must reach at least `target`.
    pub fn at_least(
        key: &'static str,
        name: &'static str,
        value: f64,
        unit: &'static str,
        target: f64,
    ) -> Goal {
        Goal::new(key, name, value, unit, (">=", target), value >= target)
    }

    /// `value` must stay at most `target`.
    pub fn at_most(
        key: &'static str,
        name: &'static str,
        value: f64,
        unit: &'static str,
        target: f64,
    ) -> Goal {
        Goal::new(key, name, value, unit, ("<=", target), value <= target)
    }

    fn new(
        key: &'static str,
        name: &'static str,
        value: f64,
        unit: &'static str,
        (op, target): (&str, f64),
        met: bool,
    ) -> Goal {
        Goal {
            key,
            name,
            value,
            unit,
            goal: format!("{op} {}", show(target)),
            met,
        }
    }
}

/// A goal's target as printed: whole numbers without decimals, ratios with two.
fn show(target: f64) -> String {
    if target.fract() == 0.0 {
        format!("{target:.0}")
    } else {
        format!("{target:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_text_and_verdict_come_from_one_target() {
        let g = Goal::at_least("k", "n", 0.79, "", 0.8);
        assert_eq!((g.goal.as_str(), g.met), (">= 0.80", false));
        let g = Goal::at_least("k", "n", 250.0, "M events/s", 250.0);
        assert_eq!((g.goal.as_str(), g.met), (">= 250", true));
        let g = Goal::at_most("k", "n", 1.0, "µs", 1.0);
        assert_eq!((g.goal.as_str(), g.met), ("<= 1", true));
        let g = Goal::at_most("k", "n", 100.5, "ms", 100.0);
        assert_eq!((g.goal.as_str(), g.met), ("<= 100", false));
        assert_eq!(Goal::at_least("k", "n", 0.9, "", 0.9).goal, ">= 0.90");
    }
}
