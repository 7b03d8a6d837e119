using Microsoft.AspNetCore.Components;
using SlmStudio.Core;
using SlmStudio.Core.Inference;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Components.Pages.Playground;

/// <summary>Generates text with one registered version, or two side by side, streaming token by token.</summary>
public sealed partial class PlaygroundPage : IDisposable
{
    [SupplyParameterFromQuery(Name = "version")] public int? Version { get; set; }

    private List<VersionChoice>? _versions;
    private readonly PlaygroundState _left = new();
    private readonly PlaygroundState _right = new();
    private string _prompt = "";
    private double _temperature = 0.8;
    private int _topK = 40;
    private double _topP = 0.95;
    private int _maxTokens = 80;
    private bool _colour = true;
    private bool _compare;
    private CancellationTokenSource? _cts;

    [Inject] private ModelRegistry Registry { get; set; } = default!;
    [Inject] private ModelGeneration Generation { get; set; } = default!;
    [Inject] private ILogger<PlaygroundPage> Logger { get; set; } = default!;

    protected override async Task OnInitializedAsync()
    {
        // Newest first: the version just trained is the one most likely to be tried.
        _versions = [.. (await Registry.ChoicesAsync()).OrderByDescending(v => v.Id)];
        if (_versions.Count == 0) return;
        _left.VersionId = Version is { } id && _versions.Any(v => v.Id == id) ? id : _versions[0].Id;
        _right.VersionId = _versions.FirstOrDefault(v => v.Id != _left.VersionId)?.Id ?? _left.VersionId;
    }

    private async Task GenerateAsync()
    {
        _cts?.Dispose();
        _cts = new CancellationTokenSource();
        var settings = new GenerationSettings(_maxTokens, _temperature, _topK, _topP);
        var tasks = new List<Task> { RunAsync(_left, settings, _cts.Token) };
        if (_compare) tasks.Add(RunAsync(_right, settings, _cts.Token));
        await Task.WhenAll(tasks);
    }

    private async Task RunAsync(PlaygroundState state, GenerationSettings settings, CancellationToken ct)
    {
        state.Start(_prompt);
        StateHasChanged();
        var lastRender = DateTime.UtcNow;
        try
        {
            var version = await Registry.FindAsync(state.VersionId, ct);
            if (version is null)
            {
                state.Error = "This model version no longer exists. Reload the page and choose another one.";
                return;
            }
            state.Loading = true;
            var generator = await Generation.GetAsync(version);
            state.Loading = false;
            await foreach (var token in generator.GenerateAsync(_prompt, settings, ct))
            {
                state.Add(token.Text, token.Probability);
                if (DateTime.UtcNow - lastRender > TimeSpan.FromMilliseconds(50))
                {
                    lastRender = DateTime.UtcNow;
                    StateHasChanged();
                    await Task.Yield();
                }
            }
        }
        catch (OperationCanceledException) { state.Stopped = true; }
        catch (EngineException e)
        {
            state.Error = e.Message;
        }
        catch (Exception e)
        {
            Logger.LogError(e, "Generation with version {VersionId} failed", state.VersionId);
            state.Error = "The model could not answer. Try again; if it keeps failing, ask your administrator to check the server log.";
        }
        finally
        {
            state.Running = false;
            state.Loading = false;
            StateHasChanged();
        }
    }

    private void Stop() => _cts?.Cancel();

    public void Dispose()
    {
        _cts?.Cancel();
        _cts?.Dispose();
    }
}
