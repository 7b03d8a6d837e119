namespace SlmStudio.Web.Security;

/// <summary>The three roles and the policies pages and endpoints name.</summary>
public static class StudioRoles
{
    public const string Administrator = "Administrator";
    public const string Builder = "Builder";
    public const string Viewer = "Viewer";
    public static readonly string[] All = [Administrator, Builder, Viewer];

    /// <summary>Pages that build and train: Builders and Administrators.</summary>
    public const string BuildersPolicy = "Builders";
    /// <summary>Users, settings and the jobs dashboard.</summary>
    public const string AdministratorsPolicy = "Administrators";
    /// <summary>The /v1 endpoints: a valid API key.</summary>
    public const string ApiKeyPolicy = "ApiKey";
}
