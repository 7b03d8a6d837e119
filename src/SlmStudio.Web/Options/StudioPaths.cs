using Microsoft.Extensions.Options;

namespace SlmStudio.Web.Options;

/// <summary>Absolute locations derived from <see cref="StudioOptions"/> and the content root.</summary>
public sealed class StudioPaths(IOptions<StudioOptions> options, IHostEnvironment environment)
{
    private readonly StudioOptions _o = options.Value;

    public string Root(string path) => Path.GetFullPath(Path.Combine(environment.ContentRootPath, path));

    public string Jobs => Root(_o.JobsPath);
    public string Models => Root(_o.ModelsPath);
    public string BaseModels => Root(_o.BaseModelsPath);
    public long MaxBaseModelUploadBytes => _o.MaxBaseModelUploadMegabytes * 1024L * 1024L;
    public string Database => Root(_o.DatabasePath);
    public string HangfireDatabase => Root(_o.HangfireDatabasePath);

    public string Uploads(int projectId) => Path.Combine(Jobs, "uploads", $"project-{projectId}");
    /// <summary>Frozen dataset versions, one folder per content hash, shared by every project that froze the same data.</summary>
    public string Datasets => Path.Combine(Jobs, "datasets");
    public string Run(int runId) => Path.Combine(Jobs, "runs", $"run-{runId}");
    public string Benchmarks => Path.Combine(Jobs, "benchmark");

    public string Slm => string.IsNullOrWhiteSpace(_o.SlmPath)
        ? Path.Combine(AppContext.BaseDirectory, "slm.dll")
        : Root(_o.SlmPath);
}
