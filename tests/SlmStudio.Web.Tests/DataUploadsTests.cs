using System.Text;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

public class DataUploadsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Text_in_an_older_encoding_is_decoded_and_stored_as_UTF8()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var text = string.Concat(Enumerable.Repeat("Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9 du personnel. ", 40)).Trim();

        var file = await host.Get<DataUploads>().SaveAsync(project.Id, "ancien.txt", new MemoryStream(Encoding.Latin1.GetBytes(text)), default);

        Assert.Null(file.Problem);
        var stored = await File.ReadAllTextAsync(Path.Combine(host.Get<Options.StudioPaths>().Uploads(project.Id), file.StoredName), Encoding.UTF8);
        Assert.Equal(text, stored);
    }

    [Fact]
    public async Task Stores_text_under_a_generated_name_and_counts_it()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();
        var text = "Grüße aus Millbrook. " + string.Concat(Enumerable.Repeat("The kettle boils water. ", 100)).TrimEnd();

        var file = await uploads.SaveAsync(project.Id, "../../etc/notes.txt", new MemoryStream(Encoding.UTF8.GetBytes(text)), default);

        Assert.Null(file.Problem);
        Assert.Equal("notes.txt", file.OriginalName);
        Assert.Equal(text.Length, file.Characters);
        Assert.Matches("^[0-9a-f]{32}\\.txt$", file.StoredName);
        var stored = Path.Combine(host.Get<Options.StudioPaths>().Uploads(project.Id), file.StoredName);
        Assert.Equal(text, await File.ReadAllTextAsync(stored));
        var stats = await uploads.StatisticsAsync(project.Id);
        Assert.Equal((1, 1, (long)text.Length), (stats.Files, stats.UsableFiles, stats.Characters));
        Assert.True(stats.Enough);
    }

    [Fact]
    public async Task Explains_empty_files_wrong_encodings_and_too_little_text()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();

        var empty = await uploads.SaveAsync(project.Id, "empty.md", new MemoryStream(Encoding.UTF8.GetBytes("  \n\n ")), default);
        Assert.NotNull(empty.Problem);
        Assert.Equal(0, empty.Characters);

        // A program renamed to .txt is recognised by its content, not its name.
        byte[] binary = [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, .. new byte[4000]];
        var renamed = await uploads.SaveAsync(project.Id, "notes.txt", new MemoryStream(binary), default);
        Assert.NotNull(renamed.Problem);
        Assert.DoesNotContain("Exception", renamed.Problem);

        await uploads.SaveAsync(project.Id, "short.txt", new MemoryStream("Only a line."u8.ToArray()), default);
        var stats = await uploads.StatisticsAsync(project.Id);
        Assert.Equal(3, stats.Files);
        output.WriteLine($"empty: {empty.Problem}\nrenamed binary: {renamed.Problem}");
        Assert.Equal(1, stats.UsableFiles);
        Assert.False(stats.Enough);
        Assert.Equal(2000, stats.MinimumCharacters);
    }

    [Fact]
    public async Task Refuses_other_file_types_and_oversized_files_without_leaving_anything_behind()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:MaxUploadMegabytes"] = "1" });
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();

        var type = await Assert.ThrowsAsync<UserFacingException>(() => uploads.SaveAsync(project.Id, "report.exe", new MemoryStream([1, 2, 3]), default));
        Assert.Contains(".txt or .md", type.Message);
        var big = await Assert.ThrowsAsync<UserFacingException>(() => uploads.SaveAsync(project.Id, "big.txt", new MemoryStream(new byte[1024 * 1024 + 1]), default));
        Assert.Contains("1 MB limit", big.Message);

        var folder = host.Get<Options.StudioPaths>().Uploads(project.Id);
        Assert.Empty(Directory.Exists(folder) ? Directory.GetFiles(folder) : []);
        Assert.Equal(0, (await uploads.StatisticsAsync(project.Id)).Files);
    }

    [Fact]
    public async Task Sample_data_is_enough_to_train_on()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:MinimumTrainingCharacters"] = "20000" });
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();

        var count = await uploads.AddSampleDataAsync(project.Id, default);

        var stats = await uploads.StatisticsAsync(project.Id);
        Assert.True(count >= 8);
        Assert.Equal(count, stats.UsableFiles);
        Assert.True(stats.Characters > 150_000, $"{stats.Characters} characters");
        Assert.True(stats.Enough);
    }
}
