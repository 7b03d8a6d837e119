using Microsoft.AspNetCore.Components;
using MudBlazor;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Components.Pages.Runs;

/// <summary>One training run, live: figures, loss curves and samples, pushed while the run trains in this process and
/// read from the database when the worker is another process.</summary>
public sealed partial class RunPage : IDisposable
{
    [Parameter] public int Id { get; set; }

    [Inject] private RunService Runs { get; set; } = default!;
    [Inject] private VersionVerdicts Verdicts { get; set; } = default!;
    [Inject] private RunNotifier Notifier { get; set; } = default!;
    [Inject] private RunScheduler Scheduler { get; set; } = default!;
    [Inject] private ModelRegistry Registry { get; set; } = default!;

    private static readonly TimeSpan RenderInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);
    private const int MaxPoints = 200;

    private TrainingRun? _run;
    private bool _loading = true;
    private readonly List<double> _trainSeries = [];
    private readonly List<string> _trainLabels = [];
    private readonly List<double> _valSeries = [];
    private readonly List<string> _valLabels = [];
    private readonly List<EvaluationResult> _evals = [];
    /// <summary>What the engine said in words (why it stopped, why it chose a size), oldest first.</summary>
    private readonly List<string> _messages = [];
    private double? _baseline;
    /// <summary>The events of a "Sort and route" run (its page shows them instead of loss curves and samples).</summary>
    private List<Core.Classification.ClassificationEvent> _classificationEvents = [];
    private bool IsClassification => _run?.Task == TrainingTasks.Classify;
    private ModelVersion? _version;
    private Core.Verdicts.ModelVerdict? _verdict;
    private IDisposable? _subscription;
    private Timer? _poll;
    /// <summary>Draws the steps that arrived since the last redraw, once the render interval has passed.</summary>
    private Timer? _deferredRender;
    private DateTime _lastPush = DateTime.UtcNow;
    private DateTime _lastRender;
    private bool _renderPending;

    /// <summary>A finished run is complete even when its time budget ended it before the planned last step.</summary>
    private double Percent => RunProgress.Percent(_run);
    private List<ChartSeries<double>> TrainChart => [new() { Name = "Training loss", Data = _trainSeries.ToArray() }];
    private List<ChartSeries<double>> ValChart => _baseline is { } b
        ? [new() { Name = "Validation loss", Data = _valSeries.ToArray() }, new() { Name = "Simple baseline", Data = _valSeries.Select(_ => b).ToArray() }]
        : [new() { Name = "Validation loss", Data = _valSeries.ToArray() }];
    private LineChartOptions TrainOptions => RunProgress.ChartOptions(_trainSeries);
    private LineChartOptions ValOptions => RunProgress.ChartOptions(_baseline is { } b ? [.. _valSeries, b] : _valSeries);

    protected override async Task OnParametersSetAsync()
    {
        _subscription?.Dispose();
        await LoadAsync();
        _subscription = Notifier.Subscribe(Id, OnUpdateAsync);
        // Pushes come from this process; when the worker is another process (Role=Web here), the page reads the
        // database instead whenever nothing was pushed for a while.
        _poll ??= new Timer(_ => InvokeAsync(PollAsync), null, PollInterval, PollInterval);
        _deferredRender ??= new Timer(_ => InvokeAsync(RenderDeferred), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _loading = false;
    }

    private async Task LoadAsync()
    {
        _run = await Runs.FindAsync(Id);
        if (_run is null) return;
        _trainSeries.Clear(); _trainLabels.Clear(); _valSeries.Clear(); _valLabels.Clear(); _evals.Clear(); _messages.Clear();
        if (IsClassification) _classificationEvents = await Runs.ClassificationEventsAsync(Id);
        else foreach (var e in await Runs.PageEventsAsync(Id)) AddPoint(e);
        if (_run.ModelVersionId is { } versionId && _version?.Id != versionId)
        {
            _version = await Registry.FindAsync(versionId);
            _verdict = _version is null ? null : (await Verdicts.OfAsync([_version])).GetValueOrDefault(_version.Id);
        }
    }

    private void AddPoint(TrainingEvent e)
    {
        if (e is TrainingStep step)
        {
            _trainSeries.Add(step.Loss);
            _trainLabels.Add(step.Step.ToString());
            if (_trainSeries.Count > MaxPoints) Thin(_trainSeries, _trainLabels);
        }
        else if (e is EvaluationResult eval)
        {
            _valSeries.Add(eval.ValLoss);
            _valLabels.Add(eval.Step.ToString());
            _evals.Add(eval);
        }
        else if (e is TrainingMessage message) _messages.Add(message.Text);
        else if (e is TrainingStarted started && started.BaselineValLoss > 0) _baseline = started.BaselineValLoss;
    }

    /// <summary>Keeps long curves drawable: every other point goes, the shape stays.</summary>
    private static void Thin(List<double> values, List<string> labels)
    {
        for (int i = values.Count - 2; i >= 0; i -= 2) { values.RemoveAt(i); labels.RemoveAt(i); }
    }

    private async Task PollAsync()
    {
        if (_run is not { IsActive: true } || DateTime.UtcNow - _lastPush < PollInterval) return;
        await LoadAsync();
        StateHasChanged();
    }

    private async Task OnUpdateAsync(RunUpdate update)
    {
        _lastPush = DateTime.UtcNow;
        await InvokeAsync(async () =>
        {
            if (_run is null) return;
            if (update.Status is not null)
            {
                await LoadAsync();
                StateHasChanged();
                return;
            }
            if (update.Event is { } e)
            {
                AddPoint(e);
                _run.Apply(e);
            }
            // Step events can come many times a second; the page redraws at most twice a second.
            if (DateTime.UtcNow - _lastRender > RenderInterval || update.Event is not TrainingStep)
            {
                _lastRender = DateTime.UtcNow;
                StateHasChanged();
            }
            else if (!_renderPending)
            {
                _renderPending = true;
                _deferredRender?.Change(RenderInterval, Timeout.InfiniteTimeSpan);
            }
        });
    }

    private void RenderDeferred()
    {
        _renderPending = false;
        _lastRender = DateTime.UtcNow;
        StateHasChanged();
    }

    private async Task CancelAsync()
    {
        await Scheduler.CancelAsync(Id);
        await LoadAsync();
    }

    private async Task ResumeAsync()
    {
        await Scheduler.ResumeAsync(Id);
        await LoadAsync();
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        _poll?.Dispose();
        _deferredRender?.Dispose();
    }
}
