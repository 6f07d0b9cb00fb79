// The compiled part of the package, exposed to Python as demo_project._native by pybind11.
// LinearModel.predict (src/demo_project/core.py) calls dot() for every prediction.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

// Sum of weights[i] * features[i]. Neumaier's compensated summation keeps the rounding
// error of the sum near one unit in the last place, like Python's math.fsum.
double dot(const std::vector<double> &weights, const std::vector<double> &features) {
    if (weights.size() != features.size()) {
        // pybind11 raises std::invalid_argument in Python as ValueError.
        throw std::invalid_argument("expected " + std::to_string(weights.size()) +
                                    " features, got " + std::to_string(features.size()));
    }
    double sum = 0.0;
    double compensation = 0.0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        const double term = weights[i] * features[i];
        const double next = sum + term;
        if (std::fabs(sum) >= std::fabs(term)) {
            compensation += (sum - next) + term;
        } else {
            compensation += (term - next) + sum;
        }
        sum = next;
    }
    return sum + compensation;
}

}  // namespace

PYBIND11_MODULE(_native, module) {
    module.doc() = "Compiled helpers of demo_project (C++, pybind11).";
    module.def("dot", &dot, py::arg("weights"), py::arg("features"),
               "Dot product of two equally long sequences of floats, with compensated summation.");
}
