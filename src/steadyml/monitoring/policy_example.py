"""The commented example policy `steady policy example` prints (kept valid by the tests)."""

EXAMPLE_POLICY = """\
# A steadyml policy: what the controller watches for one deployment and what it may do on its
# own. Apply it with `steady policy apply FILE`. Durations: 500ms, 30s, 5m, 2h, 7d or seconds.
deployment: fraud              # the deployment this policy governs
evaluate_every: 5s             # how often the controller evaluates the policy
window: 5m                     # the window SLOs are judged over
min_samples: 100               # requests per arm per window before judging

slo:                           # every key is optional
  latency_p99_ms: 50
  error_rate: 0.01
  cost_per_1k: 0.01            # compute cost per 1,000 predictions
  metric:                      # from delayed outcomes (ground truth that arrives later)
    name: accuracy             # set min for accuracy, precision, recall, roc_auc, max for
                               # log_loss, mae, rmse, either for business
    min: 0.9
    min_outcomes: 50           # outcomes per window before judging the metric

drift:
  reference: training          # training | window | both
  reference_offset: 7d         # window/both: compare with the same-length window this long ago
  window: 1h                   # default: the policy's window
  persistence: 3               # consecutive drifted windows before acting
  alpha: 0.05                  # family-wise significance across all features
  numeric_effect: 0.1          # least Wasserstein distance / reference std that counts
  categorical_effect: 0.1      # least Jensen-Shannon distance that counts
  psi: null                    # an optional extra PSI threshold
  features:                    # per feature: numeric_effect, categorical_effect, psi, ignore
    amount: {psi: 0.1}
  predictions:                 # drift of the model's outputs: {psi: ...} or {ignore: true}
    psi: 0.2

canary:                        # progressive delivery of a new revision
  steps: [5, 25, 50, 100]      # percent of traffic on the candidate; the last step is 100
  min_samples: 200             # candidate samples at each step
  min_duration: 60s            # time at each step
  max_error_rate_increase: 0.01  # candidate - stable error rate
  max_latency_ratio: 1.5       # candidate p99 / stable p99
  max_metric_drop: 0.02        # stable - candidate, on slo.metric
  max_prediction_psi: 0.25     # candidate vs stable prediction distributions

actions:                       # what the controller may do on its own
  promote: true                # advance the canary step by step
  rollback: true               # return to the stable revision on a breach
  alert:                       # true, false or a mapping
    webhook: http://127.0.0.1:9000/hook
    repeat_after: 1h           # re-notify the same breach at most this often
  retrain:                     # false or a mapping
    pipeline: "retrain.py:churn"   # a steadyml pipeline, run with --trigger drift; or instead
    params: {data: latest}         #   command: "python train.py --data latest"
    cooldown: 1d
    estimated_cost: 2.0        # of one retrain
    budget: 10.0               # in total per budget_period
    budget_period: 30d

business_metric: "mypackage.metrics:profit"   # module:function, for metric name business
"""
