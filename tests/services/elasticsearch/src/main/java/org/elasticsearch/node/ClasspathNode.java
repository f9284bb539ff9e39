package org.elasticsearch.node;

import java.util.Collection;
import java.util.List;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

/**
 * Builds an Elasticsearch {@link Node} whose plugins are classes on the classpath.
 *
 * <p>The server's own constructors that take classpath plugins are package-private, so this class
 * lives in the server's package. It goes through the same construction as a production node
 * ({@link NodeConstruction}); the only thing it replaces is where plugins come from: the test
 * framework's {@link MockPluginsService} instead of a plugins folder of a distribution.
 */
public final class ClasspathNode {

    private ClasspathNode() {}

    /**
     * A node for {@code environment} with {@code plugins} loaded; not started yet.
     *
     * @param forbidPrivateIndexSettings true to behave like a production node
     */
    public static Node create(
        Environment environment,
        Collection<Class<? extends Plugin>> plugins,
        boolean forbidPrivateIndexSettings) {
        List<Class<? extends Plugin>> classes = List.copyOf(plugins);
        NodeServiceProvider provider = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader loader) {
                return new MockPluginsService(env.settings(), env, classes);
            }
        };
        return new Node(NodeConstruction.prepareConstruction(environment, null, provider, forbidPrivateIndexSettings));
    }
}
