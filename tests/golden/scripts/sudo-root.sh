sh -c 'echo ok'
