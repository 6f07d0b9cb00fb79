# Summary statistics of the numbers on standard input (one per line), in base R only.
# Writes one "name<TAB>value" line per statistic: n, mean, sd (sample standard deviation,
# NA for a single value), min, q25, median, q75 (R's default quantiles, type 7) and max.
# The Python package runs it through demo_project.rstats.summarize().

values <- scan(file("stdin"), what = numeric(), quiet = TRUE)
if (length(values) == 0L) {
  stop("no values on standard input")
}
if (!all(is.finite(values))) {
  stop("all values must be finite numbers")
}

quartiles <- stats::quantile(values, probs = c(0.25, 0.5, 0.75), names = FALSE, type = 7)
statistics <- c(
  n = length(values),
  mean = mean(values),
  sd = if (length(values) > 1L) stats::sd(values) else NA_real_,
  min = min(values),
  q25 = quartiles[1],
  median = quartiles[2],
  q75 = quartiles[3],
  max = max(values)
)
# %.17g keeps every bit of a double, so Python reads back exactly what R computed.
writeLines(sprintf("%s\t%.17g", names(statistics), statistics))
