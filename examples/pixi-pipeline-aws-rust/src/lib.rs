//! The compiled part of the package, exposed to Python as `demo_project._native` by PyO3.
//! `LinearModel.predict` (src/demo_project/core.py) calls `dot` for every prediction.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Dot product of two equally long sequences of floats, with compensated summation.
///
/// Neumaier's summation keeps the rounding error of the sum near one unit in the last
/// place, like Python's `math.fsum`.
#[pyfunction]
fn dot(weights: Vec<f64>, features: Vec<f64>) -> PyResult<f64> {
    if weights.len() != features.len() {
        return Err(PyValueError::new_err(format!(
            "expected {} features, got {}",
            weights.len(),
            features.len()
        )));
    }
    let mut sum = 0.0_f64;
    let mut compensation = 0.0_f64;
    for (weight, feature) in weights.iter().zip(&features) {
        let term = weight * feature;
        let next = sum + term;
        compensation += if sum.abs() >= term.abs() {
            (sum - next) + term
        } else {
            (term - next) + sum
        };
        sum = next;
    }
    Ok(sum + compensation)
}

/// Compiled helpers of demo_project (Rust, PyO3).
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(dot, module)?)?;
    Ok(())
}
